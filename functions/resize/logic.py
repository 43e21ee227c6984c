"""Resize: original in the input bucket → upright, lossless intermediates in the output bucket."""

from __future__ import annotations

from typing import Any

from imgpipe.aws import ObjectStore
from imgpipe.config import WORK_PREFIX, PipelineSettings
from imgpipe.image import core


def intermediate_key(image_id: str, name: str) -> str:
    return f"{WORK_PREFIX}{image_id}/{name}.{core.INTERMEDIATE_EXTENSION}"


def resize_image(event: dict[str, Any], store: ObjectStore, settings: PipelineSettings, output_bucket: str) -> dict[str, Any]:
    image_id = event["imageId"]
    source = event["source"]
    data = store.get(source["bucket"], source["key"], settings.limits.max_bytes)
    info, resized = core.resize(data, settings)
    intermediates = []
    for rendition, image in resized:
        key = intermediate_key(image_id, rendition.name)
        # Deterministic keys: a retried or duplicated execution overwrites, never accumulates.
        store.put(output_bucket, key, core.encode_intermediate(image), core.INTERMEDIATE_CONTENT_TYPE)
        intermediates.append({"name": rendition.name, "key": key, "width": image.width, "height": image.height})
    return {"original": {"key": source["key"], **info.to_dict()}, "intermediates": intermediates}
