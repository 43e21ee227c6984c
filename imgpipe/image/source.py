"""Opening an original safely: sniff, scan, read the header, and enforce every limit before any
pixel is decoded."""

from __future__ import annotations

import functools
import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image

from imgpipe.config import Limits
from imgpipe.errors import CORRUPT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_FORMAT
from imgpipe.image.probe import probe
from imgpipe.image.sniff import ACCEPTED_HINT, sniff

log = logging.getLogger(__name__)

# Pillow's own bomb guard stays on as a backstop; ours (Limits) is stricter and runs first.
Image.MAX_IMAGE_PIXELS = 100_000_000

# Formats whose extra frames are an animation; for TIFF (pages), HEIF (collections) and JPEG (MPO
# side images) extra images are counted but the primary image is what we render.
ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "AVIF")
FORMAT_LABELS = {"HEIF": "HEIC/HEIF", "WEBP": "WebP"}


@dataclass
class Source:
    """An opened (header-only) original that passed every limit."""

    image: Image.Image
    format: str
    width: int  # as stored, before orientation
    height: int
    frames: int
    duration_ms: int | None

    @property
    def animated(self) -> bool:
        return self.frames > 1 and self.format in ANIMATED_FORMATS


def format_label(fmt: str) -> str:
    """The format's name as users know it, for error messages."""
    return FORMAT_LABELS.get(fmt, fmt)


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} MP" if pixels >= 10e6 else f"{pixels / 1e6:.1f} MP"


@functools.cache
def _register_heif() -> None:
    # pillow-heif is imported only when a HEIF file arrives: it is a cold-start cost the other
    # formats should not pay.  Depth maps and auxiliary images are never used: don't parse them.
    import pillow_heif

    pillow_heif.register_heif_opener(depth_images=False, aux_images=False)


def check_size(width: int, height: int, limits: Limits, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise CORRUPT_IMAGE(f"The {format_label(fmt)} file is damaged (it claims a {width}x{height} image)")
    if max(width, height) > limits.max_edge:
        raise IMAGE_TOO_LARGE(
            f"The image is {width}x{height} pixels; the longest side may be at most {limits.max_edge}"
        )
    if width * height > limits.max_pixels:
        size = f"{width}x{height} pixels ({megapixels(width * height)})"
        raise IMAGE_TOO_LARGE(f"The image is {size}; the limit is {megapixels(limits.max_pixels)}")


def open_checked(data: bytes, limits: Limits) -> Source:
    """Sniff, scan and open header-only; enforce every limit before any pixel is decoded."""
    if len(data) > limits.max_bytes:
        raise IMAGE_TOO_LARGE(f"The file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB")
    fmt = sniff(data)
    scan = probe(data, fmt, limits)
    if fmt == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            # Our limit is checked right below (Pillow's bomb warning threshold is not ours), and
            # Pillow's warnings about malformed metadata in hostile files are not worth a log line.
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        raise IMAGE_TOO_LARGE(f"The image is larger than the limit of {megapixels(limits.max_pixels)}") from None
    except Exception as exc:  # a hostile header can raise anything from a plugin
        log.info("open failed for %s: %r", fmt, exc)
        raise CORRUPT_IMAGE(f"The {format_label(fmt)} file is damaged or incomplete and cannot be read") from None
    width, height = im.size
    check_size(width, height, limits, fmt)
    if fmt == "TIFF":
        _check_tiff(im, limits)
    frames = scan.frames if scan.frames is not None else _count_frames(im, fmt)
    if frames > limits.max_frames:
        raise IMAGE_TOO_LARGE(f"The image has {frames} frames; the limit is {limits.max_frames}")
    return Source(im, fmt, width, height, frames, scan.duration_ms if frames > 1 else None)


def _count_frames(im: Image.Image, fmt: str) -> int:
    if fmt == "JPEG":
        return 1  # MPO side images (depth maps, previews) are not frames of the photo
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except Exception as exc:
        log.info("frame count failed for %s: %r", fmt, exc)
        raise CORRUPT_IMAGE(f"The {format_label(fmt)} file is damaged or incomplete and cannot be read") from None


def _check_tiff(im: Image.Image, limits: Limits) -> None:
    tags = getattr(im, "tag_v2", {})
    if 50706 in tags:  # DNGVersion
        raise UNSUPPORTED_FORMAT(f"Camera RAW (DNG) files are not supported; {ACCEPTED_HINT}")
    tile_w, tile_h = tags.get(322), tags.get(323)
    # libtiff allocates a whole tile at a time: a tiny image with a huge tile is a bomb too.
    if isinstance(tile_w, int) and isinstance(tile_h, int) and tile_w * tile_h > limits.max_pixels:
        raise IMAGE_TOO_LARGE(f"The TIFF file's tiles are {tile_w}x{tile_h} pixels, over the limit")
