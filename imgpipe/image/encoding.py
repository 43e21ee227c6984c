"""Encoding a finished rendition into its output format, with the settings chosen by measurement
and no metadata."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from imgpipe.config import PipelineSettings, Rendition
from imgpipe.image import exif
from imgpipe.image.exif import COPYRIGHT_KEY

OUTPUT_TYPES = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
    "avif": ("AVIF", "image/avif", "avif"),
    "png": ("PNG", "image/png", "png"),
}


@dataclass
class Encoded:
    name: str
    data: bytes
    format: str  # jpeg | webp | avif | png
    content_type: str
    extension: str
    width: int
    height: int


def _without_info(im: Image.Image) -> Image.Image:
    """``im`` with an empty ``info`` (several Pillow encoders read ICC, comments and more from it)."""
    if not im.info:
        return im
    im.load()
    clean = im._new(im.im)  # shares the pixel memory: no copy
    clean.info = {}
    return clean


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def output_format(rendition: Rendition, has_alpha: bool) -> str:
    if rendition.format != "auto":
        return rendition.format
    return "webp" if has_alpha else "jpeg"


# Encoder settings, chosen by measurement (docs/performance.md, "Encoder settings at equal quality";
# the 1600 px photo rendition, single-threaded, every setting at the quality knob giving the same SSIM):
# * JPEG: progressive (Huffman tables always optimised) costs ~11 ms more than an optimised baseline
#   file for 1.7 % fewer bytes at identical pixels, and lets browsers show a preview early: kept.
#   4:2:0 chroma is written explicitly (it is libjpeg's default for our qualities anyway).
# * WebP: method 4 makes the smallest file; 5 and 6 cost more CPU for nothing, 2 is 2.4x faster
#   but 7 % bigger (it pays for itself after about two downloads of the rendition): 4 kept.
# * AVIF: speed 6 instead of 8: 17 % fewer bytes for 2.8x the CPU (~0.4 s per 1600 px rendition;
#   repaid after ~3 downloads); speed 5 saves 18 % more but costs 5x speed 6's CPU, 9-10 are 10 %
#   bigger.
JPEG_OPTIONS: dict[str, Any] = {"optimize": True, "progressive": True, "subsampling": "4:2:0"}
WEBP_METHOD = 4
AVIF_SPEED = 6
PNG_COMPRESS_LEVEL = 6


def encode(im: Image.Image, rendition: Rendition, settings: PipelineSettings) -> Encoded:
    fmt = output_format(rendition, im.mode == "RGBA")
    pil_format, content_type, extension = OUTPUT_TYPES[fmt]
    copyright_line = im.info.get(COPYRIGHT_KEY) if settings.keep_copyright else None
    if im.mode == "RGBA" and fmt == "jpeg":
        flat = Image.new("RGB", im.size, _hex_to_rgb(settings.background))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    options: dict[str, Any] = {}
    if fmt == "jpeg":
        options = {"quality": rendition.quality, **JPEG_OPTIONS}
    elif fmt == "webp":
        options = {"quality": rendition.quality, "method": WEBP_METHOD}
    elif fmt == "avif":
        options = {"quality": rendition.quality, "speed": AVIF_SPEED}
    elif fmt == "png":
        options = {"compress_level": PNG_COMPRESS_LEVEL}
    if copyright_line:
        options["exif"] = exif.copyright_exif(copyright_line)
    buf = io.BytesIO()
    # Renditions carry no metadata (privacy by default): ``info`` is emptied because the PNG, JPEG
    # and AVIF encoders would otherwise copy an ICC profile, a comment or XMP from it.
    _without_info(im).save(buf, pil_format, **options)
    return Encoded(rendition.name, buf.getvalue(), fmt, content_type, extension, im.width, im.height)
