"""Resize: original in the input bucket → upright, lossless intermediates in the output bucket.

Every rendition's intermediate goes into one object, ``work/<imageId>/renditions.raw``, each at the
offset its entry in the output names: one PUT (and one GET in the watermark step) per image instead
of one per rendition.  S3 charges per request, and at $0.005 per 1,000 PUTs the two saved cost more
than the whole Lambda compute of an image (docs/decisions.md).
"""

from __future__ import annotations

import re

from imgpipe.adapters import ObjectStore
from imgpipe.config import UPLOAD_PREFIX, WORK_PREFIX, PipelineSettings
from imgpipe.contracts import Intermediate, ResizeInput, ResizeOutput
from imgpipe.errors import INVALID_UPLOAD_KEY
from imgpipe.image import intermediate, renditions
from imgpipe.uploads import is_kept_filename

_UPLOAD_KEY = re.compile(re.escape(UPLOAD_PREFIX) + r"(?P<image_id>[0-9a-f]{32})/(?P<filename>[^/]+)")


def intermediate_key(image_id: str) -> str:
    return f"{WORK_PREFIX}{image_id}/renditions.{intermediate.INTERMEDIATE_EXTENSION}"


def resize_image(
    event: ResizeInput, store: ObjectStore, settings: PipelineSettings, output_bucket: str
) -> ResizeOutput:
    image_id = event["imageId"]
    source = event["source"]
    # The id becomes part of every output key: only keys the API issues are processed.
    match = _UPLOAD_KEY.fullmatch(source["key"])
    if match is None or match["image_id"] != image_id or not is_kept_filename(match["filename"]):
        raise INVALID_UPLOAD_KEY(f"{source['key']!r} is not an upload key this pipeline issued")
    data = store.get(source["bucket"], source["key"], settings.limits.max_bytes)
    info, resized = renditions.resize(data, settings)
    # A deterministic key: a retried or duplicated execution overwrites, never accumulates.
    key = intermediate_key(image_id)
    parts: list[bytes] = []
    placed: dict[int, tuple[int, int]] = {}  # renditions of the same size share one image, and one part
    intermediates: list[Intermediate] = []
    offset = 0
    for rendition, image in resized:
        if id(image) not in placed:
            parts.append(intermediate.encode_intermediate(image))
            placed[id(image)] = (offset, len(parts[-1]))
            offset += len(parts[-1])
        start, length = placed[id(image)]
        intermediates.append(
            {
                "name": rendition.name,
                "key": key,
                "offset": start,
                "length": length,
                "width": image.width,
                "height": image.height,
            }
        )
    store.put(output_bucket, key, b"".join(parts), intermediate.INTERMEDIATE_CONTENT_TYPE)
    return {"original": {"key": source["key"], **info.to_dict()}, "intermediates": intermediates}
