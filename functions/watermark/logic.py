"""Watermark: lossless intermediates → watermarked, encoded renditions (the only lossy encode)."""

from __future__ import annotations

import io
from typing import Any

from imgpipe.adapters import ImageRepository, ObjectStore
from imgpipe.config import DELETED, RENDITION_CACHE_CONTROL, RENDITION_PREFIX, PipelineSettings, SettingsError
from imgpipe.contracts import RenditionRecord, WatermarkInput, WatermarkOutput
from imgpipe.errors import CORRUPT_IMAGE, DELETED_WHILE_PROCESSING
from imgpipe.image import encoding, intermediate, watermark

CACHE_CONTROL = RENDITION_CACHE_CONTROL  # renditions never change under their key; the CDN caches them a year
MAX_LOGO_BYTES = 5 * 1024 * 1024
MAX_LOGO_EDGE = 4096
# The object holding an image's intermediates (raw RGB/RGBA renditions, intermediate.encode_intermediate):
# each at most 8192 x 8192 x 4 bytes, and all of them bounded by the rendition settings, written by
# our own resize step.  It stays in memory while the renditions are encoded (~7 MB for 1600 px).
MAX_INTERMEDIATE_BYTES = 1 << 30


def rendition_key(image_id: str, name: str, extension: str) -> str:
    return f"{RENDITION_PREFIX}{image_id}/{name}.{extension}"


def load_logo(store: ObjectStore, settings: PipelineSettings, bucket: str) -> Any:
    """The operator's watermark logo (a PNG, ideally with alpha), or None if none is configured.

    A logo that is missing, not a PNG or unreasonably large is a configuration error: it fails
    loudly (SettingsError) rather than silently watermarking without it.
    """
    if not settings.watermark.logo_key:
        return None
    from PIL import Image

    key = settings.watermark.logo_key
    data = store.get(bucket, key, MAX_LOGO_BYTES)
    try:
        logo = Image.open(io.BytesIO(data), formats=["PNG"])
        if max(logo.size) > MAX_LOGO_EDGE:
            raise SettingsError(
                f"watermark logo {key} is {logo.width}x{logo.height}; at most {MAX_LOGO_EDGE} px a side"
            )
        logo.load()
    except SettingsError:
        raise
    except Exception as exc:
        raise SettingsError(f"watermark logo {key} is not a readable PNG: {exc}") from None
    rgba = logo.convert("RGBA")
    rgba.info = {}
    return rgba


def watermark_renditions(
    event: WatermarkInput, store: ObjectStore, settings: PipelineSettings, output_bucket: str, logo: Any = None
) -> WatermarkOutput:
    image_id = event["imageId"]
    by_name = {r.name: r for r in settings.renditions}
    objects: dict[str, memoryview] = {}  # one GET per object: every rendition shares one (resize)
    renditions: list[RenditionRecord] = []
    for item in event["intermediates"]:
        rendition = by_name.get(item["name"])
        if rendition is None:
            raise SettingsError(f"rendition {item['name']!r} is not configured in this function's settings")
        if item["key"] not in objects:
            objects[item["key"]] = memoryview(store.get(output_bucket, item["key"], MAX_INTERMEDIATE_BYTES))
        whole = objects[item["key"]]
        # No offset: an object per rendition, as resize wrote them before it packed them into one
        # (an execution that started before a deployment and finishes after it).
        start = item.get("offset", 0)
        image = intermediate.decode_intermediate(whole[start : start + item.get("length", len(whole) - start)])
        if image.size != (item["width"], item["height"]):  # an intact part, but not this rendition's
            raise CORRUPT_IMAGE(
                f"intermediate of {item['name']} is {image.width}x{image.height}, not {item['width']}x{item['height']}"
            )
        marked = watermark.apply(image, settings.watermark, logo)
        encoded = encoding.encode(marked, rendition, settings)
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


def discard_if_deleted(
    event: WatermarkInput, result: WatermarkOutput, images: ImageRepository, store: ObjectStore, bucket: str
) -> None:
    """Checked after the renditions are written, so a delete cannot leave any behind: a delete that
    tombstoned the image after this read sweeps them itself (it marks first, then removes files);
    one that tombstoned it before may have swept before they existed, so this step removes them,
    with the intermediates it read, and stops the execution (DELETED_WHILE_PROCESSING)."""
    record = images.get(event["imageId"])
    if record is None or record.get("status") != DELETED:
        return
    written = [rendition["key"] for rendition in result["renditions"]]
    store.delete(bucket, written + sorted({item["key"] for item in event["intermediates"]}))
    raise DELETED_WHILE_PROCESSING(
        f"image {event['imageId']} was deleted while it was processed; its renditions were discarded"
    )
