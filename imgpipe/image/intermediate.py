"""The lossless hand-off between the resize and watermark steps: a rendition's raw pixels behind a
fixed header.

The header is 16 bytes, big-endian:

  magic b"IPRW" | version u8 (1) | bands u8 (3 = RGB, 4 = RGBA) | width u32 | height u32 |
  copyright length u16 | copyright (UTF-8, only with keep_copyright) | width*height*bands bytes

Encoding is ``Image.tobytes()`` and decoding ``Image.frombuffer``: a few milliseconds for a
1600 px rendition where PNG at compress_level=1 cost ~150 ms (docs/performance.md).  The objects
are larger (5.8 MB for 1600x1200 RGB) but live a day at most, and the S3 PUT/GET of a few MB
costs less CPU than the compression it replaces.  Decoding trusts nothing: magic, version, mode,
sizes and the exact length are checked, and a mismatch is CORRUPT_IMAGE.
"""

from __future__ import annotations

import logging
import struct
from typing import cast

from PIL import Image

from imgpipe.errors import CORRUPT_IMAGE
from imgpipe.image.allocator import keep_freed_memory
from imgpipe.image.exif import COPYRIGHT_KEY

log = logging.getLogger(__name__)

INTERMEDIATE_CONTENT_TYPE = "application/octet-stream"
INTERMEDIATE_EXTENSION = "raw"
INTERMEDIATE_MAGIC = b"IPRW"
INTERMEDIATE_VERSION = 1
_HEADER = struct.Struct(">4sBBIIH")
_BANDS_TO_MODE = {3: "RGB", 4: "RGBA"}
_MODE_TO_BANDS = {mode: bands for bands, mode in _BANDS_TO_MODE.items()}
MAX_INTERMEDIATE_EDGE = 8192  # config.Rendition.long_edge's upper bound; renditions never upscale
MAX_COPYRIGHT_BYTES = 1024  # exif.copyright_line caps the line at 200 characters


def encode_intermediate(im: Image.Image) -> bytes:
    """An 8-bit sRGB RGB/RGBA rendition → header + raw pixels (+ the copyright line, if kept)."""
    bands = _MODE_TO_BANDS.get(im.mode)
    if bands is None:
        raise ValueError(f"intermediates are RGB or RGBA, not {im.mode}")
    copyright_line = (im.info.get(COPYRIGHT_KEY) or "").encode("utf-8")
    if len(copyright_line) > MAX_COPYRIGHT_BYTES:
        raise ValueError("copyright line too long for an intermediate")
    header = _HEADER.pack(INTERMEDIATE_MAGIC, INTERMEDIATE_VERSION, bands, im.width, im.height, len(copyright_line))
    return b"".join((header, copyright_line, im.tobytes()))


def decode_intermediate(data: bytes | memoryview) -> Image.Image:
    """The inverse of ``encode_intermediate``; anything but an intact intermediate is CORRUPT_IMAGE.
    ``data`` may be a slice of a larger object (a memoryview: no copy)."""
    keep_freed_memory()
    if len(data) < _HEADER.size:
        raise _bad_intermediate(f"{len(data)} bytes, shorter than the header")
    magic, version, bands, width, height, text_len = _HEADER.unpack_from(data)
    if magic != INTERMEDIATE_MAGIC or version != INTERMEDIATE_VERSION:
        raise _bad_intermediate(f"magic {magic!r} version {version}")
    mode = _BANDS_TO_MODE.get(bands)
    if mode is None:
        raise _bad_intermediate(f"{bands} bands")
    if (
        not (1 <= width <= MAX_INTERMEDIATE_EDGE and 1 <= height <= MAX_INTERMEDIATE_EDGE)
        or text_len > MAX_COPYRIGHT_BYTES
    ):
        raise _bad_intermediate(f"{width}x{height}, copyright {text_len} bytes")
    start = _HEADER.size + text_len
    if len(data) != start + width * height * bands:
        raise _bad_intermediate(f"{len(data)} bytes for {width}x{height} {mode}")
    try:
        copyright_line = bytes(data[_HEADER.size : start]).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_intermediate("copyright line is not UTF-8") from None
    # frombuffer: RGBA maps the bytes without a copy (read-only; Pillow copies on the first write),
    # RGB is unpacked into Pillow's 4-byte pixels.
    pixels = cast(bytes, memoryview(data)[start:])  # any buffer will do; Pillow's annotation says bytes
    im = Image.frombuffer(mode, (width, height), pixels, "raw", mode, 0, 1)
    im.info = {COPYRIGHT_KEY: copyright_line} if copyright_line else {}
    return im


def _bad_intermediate(detail: str) -> CORRUPT_IMAGE:
    log.warning("bad intermediate: %s", detail)
    return CORRUPT_IMAGE(
        "The resized image handed to the watermark step is damaged; re-uploading the image should fix it"
    )
