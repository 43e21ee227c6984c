"""Resize: original in the input bucket → upright, lossless intermediates in the output bucket."""

from __future__ import annotations

import re

from imgpipe.aws import ObjectStore
from imgpipe.config import UPLOAD_PREFIX, WORK_PREFIX, PipelineSettings
from imgpipe.contracts import ResizeInput, ResizeOutput
from imgpipe.errors import INVALID_UPLOAD_KEY
from imgpipe.image import core

_UPLOAD_KEY = re.compile(re.escape(UPLOAD_PREFIX) + r"(?P<image_id>[0-9a-f]{32})/[A-Za-z0-9._-]+")


def intermediate_key(image_id: str, name: str) -> str:
    return f"{WORK_PREFIX}{image_id}/{name}.{core.INTERMEDIATE_EXTENSION}"


def resize_image(event: ResizeInput, store: ObjectStore, settings: PipelineSettings, output_bucket: str) -> ResizeOutput:
    image_id = event["imageId"]
    source = event["source"]
    # The id becomes part of every output key: only keys the API issues are processed.
    match = _UPLOAD_KEY.fullmatch(source["key"])
    if match is None or match["image_id"] != image_id:
        raise INVALID_UPLOAD_KEY(f"{source['key']!r} is not an upload key this pipeline issued")
    data = store.get(source["bucket"], source["key"], settings.limits.max_bytes)
    info, resized = core.resize(data, settings)
    intermediates = []
    for rendition, image in resized:
        key = intermediate_key(image_id, rendition.name)
        # Deterministic keys: a retried or duplicated execution overwrites, never accumulates.
        store.put(output_bucket, key, core.encode_intermediate(image), core.INTERMEDIATE_CONTENT_TYPE)
        intermediates.append({"name": rendition.name, "key": key, "width": image.width, "height": image.height})
    return {"original": {"key": source["key"], **info.to_dict()}, "intermediates": intermediates}
