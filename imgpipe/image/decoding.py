"""Decoding an opened original's first frame into 8-bit sRGB without metadata, and the facts about
the original that the image record keeps."""

from __future__ import annotations

import hashlib
import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image

from imgpipe.config import Limits
from imgpipe.errors import CORRUPT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_FORMAT, PermanentError
from imgpipe.image import color, exif
from imgpipe.image.cascade import target_size
from imgpipe.image.sniff import MIME_TYPES
from imgpipe.image.source import Source, check_size, format_label, megapixels

log = logging.getLogger(__name__)

ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class SourceInfo:
    """Bounded, non-sensitive facts about the original (what the metadata record stores)."""

    format: str
    mime: str
    width: int  # upright, after EXIF orientation
    height: int
    bytes: int
    sha256: str
    frames: int = 1
    animated: bool = False
    duration_ms: int | None = None  # total, for animations
    has_alpha: bool = False  # any pixel of the rendered frame is transparent
    orientation: int = 1
    camera: dict[str, Any] = field(default_factory=dict)  # make, model, captured_at, gps_present

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Decoded:
    """The first frame, 8-bit sRGB RGB/RGBA, no metadata; plus the facts read on the way.

    ``image`` is upright unless ``decode(..., orient=False)`` was asked for; then ``transpose`` is
    the EXIF orientation still to apply (``resize`` applies it to each small rendition instead of
    the full frame)."""

    image: Image.Image
    orientation: int
    camera: dict[str, Any]
    copyright: str | None
    transpose: Image.Transpose | None = None


# JPEG scaled decoding (libjpeg's DCT-domain 1/2, 1/4, 1/8) is fast but is not a good low-pass
# filter on its own: within each 8x8 block it truncates the spectrum, which leaks everything between
# the new Nyquist limit and the old one back into the picture.  The 1/4 and 1/8 forms alias even with
# LANCZOS after them, so the draft goes down to 1/2 at most; and 1/2 is only used when LANCZOS still
# has DRAFT_GAP of reduction left to filter that leakage out.  Measured on the benchmark photo and
# zone plate (docs/performance.md, "JPEG draft gap"): with a 1.25x gap a 12 MP photo's 1600 px rendition
# lost 2.5 dB of luma PSNR against a full-decode LANCZOS reference and showed moire on the zone plate;
# the loss falls to 0.5 dB at 2.0-2.25x and 0.2-0.3 dB at 2.5x, where the plate's stop band is as flat
# as the reference's.  So a 12 MP or 24 MP photo is decoded in full for a 1600 px rendition, and the
# 1/2 draft starts at 5x (e.g. 8000 px and more to 1600 px).
DRAFT_GAP = 2.5


def draft_request(width: int, height: int, largest_edge: int) -> tuple[int, int]:
    """The size to hand ``Image.draft``: it picks the smallest scale not below this."""
    tw, th = target_size(width, height, largest_edge)
    return max(math.ceil(tw * DRAFT_GAP), width // 3 + 1), max(math.ceil(th * DRAFT_GAP), height // 3 + 1)


def decode(source: Source, largest_edge: int, limits: Limits, *, orient: bool = True) -> Decoded:
    """Decode the first frame, read the facts we keep, and return it in 8-bit sRGB: upright, or
    with the transposition still to apply in ``Decoded.transpose`` (``orient=False``)."""
    im = source.image
    try:
        if source.format == "JPEG":
            # Scaled decoding: libjpeg decodes straight at 1/2 size when the largest rendition
            # still fits with room to spare (see DRAFT_GAP).
            im.draft("RGB" if im.mode != "CMYK" else "CMYK", draft_request(im.width, im.height, largest_edge))
        im.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except PermanentError:
        raise
    except Image.DecompressionBombError:
        raise IMAGE_TOO_LARGE(f"The image is larger than the limit of {megapixels(limits.max_pixels)}") from None
    except Exception as exc:  # truncated data, bad Huffman tables, libtiff/libheif errors, ...
        log.info("decode failed for %s: %r", source.format, exc)
        raise CORRUPT_IMAGE(
            f"The {format_label(source.format)} file is damaged or incomplete and cannot be read"
        ) from None
    # Some decoders only know the final size once they ran (HEIF): the limit holds for it too.
    if source.format != "JPEG":
        check_size(im.width, im.height, limits, source.format)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about every malformed EXIF entry: not log-worthy
        orientation = exif.orientation(im)
        camera = exif.camera_facts(im)
        copyright_line = exif.copyright_line(im)
    if source.format == "HEIF":
        # libheif has already applied the container's rotation/mirroring; pillow-heif resets the
        # EXIF tag to 1 and keeps the original value for reference.
        original = im.info.get("original_orientation")
        recorded = original if isinstance(original, int) and 1 <= original <= 8 else 1
    else:
        recorded = orientation

    try:
        image = color.to_srgb(im)
    except Exception as exc:
        log.info("colour conversion failed for %s mode %s: %r", source.format, im.mode, exc)
        raise UNSUPPORTED_FORMAT(
            f"This kind of {format_label(source.format)} image ({im.mode}) is not supported"
        ) from None
    image = color.drop_opaque_alpha(image)
    method = ORIENTATION_TRANSPOSE.get(orientation)
    if method is not None and orient:
        image, method = image.transpose(method), None
    if image is not im:
        im.close()  # release the decoded original now (the Source still refers to it)
    image.info = {}  # nothing from the original travels further: no EXIF, XMP, ICC, comments
    return Decoded(image, recorded, camera, copyright_line, method)


def source_info(source: Source, decoded: Decoded, data: bytes) -> SourceInfo:
    width, height = source.width, source.height
    if decoded.orientation in (5, 6, 7, 8) and source.format != "HEIF":
        width, height = height, width
    return SourceInfo(
        format=source.format,
        mime=MIME_TYPES[source.format],
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=source.frames,
        animated=source.animated,
        duration_ms=source.duration_ms if source.animated else None,
        has_alpha=decoded.image.mode == "RGBA",
        orientation=decoded.orientation,
        camera=decoded.camera,
    )
