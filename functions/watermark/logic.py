"""Watermark: lossless intermediates → watermarked, encoded renditions (the only lossy encode)."""

from __future__ import annotations

import io
from typing import Any

from imgpipe.aws import ObjectStore
from imgpipe.config import RENDITION_PREFIX, PipelineSettings
from imgpipe.image import core, watermark

CACHE_CONTROL = "public, max-age=31536000, immutable"


def rendition_key(image_id: str, name: str, extension: str) -> str:
    return f"{RENDITION_PREFIX}{image_id}/{name}.{extension}"


def load_logo(store: ObjectStore, settings: PipelineSettings, bucket: str) -> Any:
    if not settings.watermark.logo_key:
        return None
    from PIL import Image

    data = store.get(bucket, settings.watermark.logo_key, 5 * 1024 * 1024)
    logo = Image.open(io.BytesIO(data), formats=["PNG"])
    logo.load()
    return logo


def watermark_renditions(
    event: dict[str, Any], store: ObjectStore, settings: PipelineSettings, output_bucket: str, logo: Any = None
) -> dict[str, Any]:
    image_id = event["imageId"]
    by_name = {r.name: r for r in settings.renditions}
    renditions = []
    for item in event["intermediates"]:
        rendition = by_name[item["name"]]
        image = core.decode_intermediate(store.get(output_bucket, item["key"], 1 << 30))
        marked = watermark.apply(image, settings.watermark, logo)
        encoded = core.encode(marked, rendition, settings)
        key = rendition_key(image_id, rendition.name, encoded.extension)
        store.put(output_bucket, key, encoded.data, encoded.content_type, CACHE_CONTROL)
        renditions.append(
            {
                "name": rendition.name,
                "key": key,
                "width": encoded.width,
                "height": encoded.height,
                "format": encoded.format,
                "contentType": encoded.content_type,
                "bytes": len(encoded.data),
                "watermarked": marked is not image,
            }
        )
    return {"renditions": renditions}
