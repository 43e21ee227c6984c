"""The whole image path in one process: what the resize and watermark steps do, without S3.

Used by ``imgpipe render`` (tuning settings without a stack) and by the benchmarks.  The pipeline
splits the same calls across two Lambdas with a lossless hand-off, so the output is identical.
"""

from __future__ import annotations

from PIL import Image

from imgpipe.config import PipelineSettings
from imgpipe.image import renditions, watermark
from imgpipe.image.decoding import SourceInfo
from imgpipe.image.encoding import Encoded, encode


def render(
    data: bytes, settings: PipelineSettings, logo: Image.Image | None = None
) -> tuple[SourceInfo, list[Encoded]]:
    info, resized = renditions.resize(data, settings)
    encoded = [
        encode(watermark.apply(image, settings.watermark, logo), rendition, settings) for rendition, image in resized
    ]
    return info, encoded
