"""The shared image core: open safely, orient, resize, watermark, encode.

Pure functions over bytes and Pillow images; no AWS here.  The resize and watermark Lambdas, the
``imgpipe render`` preview and the benchmarks all call these, so what a user previews is what the
pipeline produces.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from imgpipe.config import Limits, PipelineSettings, Rendition
from imgpipe.errors import CORRUPT_IMAGE, IMAGE_TOO_LARGE
from imgpipe.image.sniff import MIME_TYPES, sniff

# Pillow's own bomb guard stays on as a backstop; ours (Limits) is stricter and runs first.
Image.MAX_IMAGE_PIXELS = 100_000_000

OUTPUT_TYPES = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
    "avif": ("AVIF", "image/avif", "avif"),
    "png": ("PNG", "image/png", "png"),
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
    duration_ms: int | None = None
    has_alpha: bool = False
    orientation: int = 1
    camera: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Encoded:
    name: str
    data: bytes
    format: str  # jpeg | webp | avif | png
    content_type: str
    extension: str
    width: int
    height: int


def _register_heif() -> None:
    # pillow-heif is imported only when a HEIF file arrives: it is a cold-start cost the other
    # formats should not pay.
    import pillow_heif

    pillow_heif.register_heif_opener()


def open_checked(data: bytes, limits: Limits) -> tuple[Image.Image, str]:
    """Sniff, open header-only, and enforce the limits before any pixel is decoded."""
    if len(data) > limits.max_bytes:
        raise IMAGE_TOO_LARGE(f"{len(data)} bytes is over the limit of {limits.max_bytes}")
    fmt = sniff(data)
    if fmt == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise IMAGE_TOO_LARGE(str(exc)) from None
    except UnidentifiedImageError:
        raise CORRUPT_IMAGE(f"the data starts like {fmt} but cannot be read as one") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CORRUPT_IMAGE(f"{fmt} header is malformed: {exc}") from None
    width, height = im.size
    if width <= 0 or height <= 0:
        raise CORRUPT_IMAGE(f"{fmt} header claims a {width}x{height} image")
    if max(width, height) > limits.max_edge:
        raise IMAGE_TOO_LARGE(f"{width}x{height} has an edge over {limits.max_edge} px")
    if width * height > limits.max_pixels:
        raise IMAGE_TOO_LARGE(f"{width}x{height} is {width * height} pixels, over the limit of {limits.max_pixels}")
    frames = getattr(im, "n_frames", 1)
    if frames > limits.max_frames:
        raise IMAGE_TOO_LARGE(f"{frames} frames is over the limit of {limits.max_frames}")
    return im, fmt


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not fail the image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def describe(im: Image.Image, fmt: str, data: bytes) -> SourceInfo:
    orientation = _orientation(im)
    width, height = im.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    frames = getattr(im, "n_frames", 1)
    return SourceInfo(
        format=fmt,
        mime=MIME_TYPES[fmt],
        width=width,
        height=height,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=frames,
        animated=frames > 1,
        duration_ms=im.info.get("duration") if frames > 1 else None,
        has_alpha=_has_alpha(im),
        orientation=orientation,
    )


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)


def _target_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Fit the long edge, never upscale."""
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_upright(im: Image.Image, largest_edge: int) -> Image.Image:
    """Decode the first frame, upright, in RGB or RGBA (sRGB)."""
    try:
        if im.format == "JPEG":
            # Scaled decoding: libjpeg decodes straight at 1/2, 1/4 or 1/8 size when the largest
            # rendition still fits; the draft never goes below the requested size.
            upright_w, upright_h = im.size
            tw, th = _target_size(upright_w, upright_h, largest_edge)
            im.draft("RGB" if im.mode != "CMYK" else "CMYK", (tw, th))
        im.seek(0)
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CORRUPT_IMAGE(f"{im.format} data cannot be decoded: {exc}") from None
    oriented = ImageOps.exif_transpose(im)
    return to_srgb(oriented)


def to_srgb(im: Image.Image) -> Image.Image:
    alpha = _has_alpha(im)
    if im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if alpha else "RGB")
    return im


def resize_all(upright: Image.Image, renditions: tuple[Rendition, ...]) -> list[tuple[Rendition, Image.Image]]:
    out = []
    for rendition in renditions:
        size = _target_size(upright.width, upright.height, rendition.long_edge)
        img = upright if size == upright.size else upright.resize(size, Image.Resampling.LANCZOS)
        out.append((rendition, img))
    return out


def resize(data: bytes, settings: PipelineSettings) -> tuple[SourceInfo, list[tuple[Rendition, Image.Image]]]:
    im, fmt = open_checked(data, settings.limits)
    info = describe(im, fmt, data)
    largest = max(r.long_edge for r in settings.renditions)
    upright = decode_upright(im, largest)
    return info, resize_all(upright, settings.renditions)


# ---- lossless hand-off between the resize and watermark steps ----------------------------------
INTERMEDIATE_CONTENT_TYPE = "image/png"
INTERMEDIATE_EXTENSION = "png"


def encode_intermediate(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def decode_intermediate(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data), formats=["PNG"])
    im.load()
    return im


# ---- encoding -----------------------------------------------------------------------------------
def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def output_format(rendition: Rendition, has_alpha: bool) -> str:
    if rendition.format != "auto":
        return rendition.format
    return "webp" if has_alpha else "jpeg"


def encode(im: Image.Image, rendition: Rendition, settings: PipelineSettings) -> Encoded:
    fmt = output_format(rendition, im.mode == "RGBA")
    pil_format, content_type, extension = OUTPUT_TYPES[fmt]
    if im.mode == "RGBA" and fmt == "jpeg":
        flat = Image.new("RGB", im.size, _hex_to_rgb(settings.background))
        flat.paste(im, mask=im.getchannel("A"))
        im = flat
    options: dict[str, Any] = {}
    if fmt == "jpeg":
        options = {"quality": rendition.quality, "optimize": True, "progressive": True}
    elif fmt == "webp":
        options = {"quality": rendition.quality, "method": 4}
    elif fmt == "avif":
        options = {"quality": rendition.quality, "speed": 8}
    elif fmt == "png":
        options = {"compress_level": 6}
    buf = io.BytesIO()
    # No exif/icc/xmp/comment arguments: renditions carry no metadata (privacy by default).
    im.save(buf, pil_format, **options)
    return Encoded(rendition.name, buf.getvalue(), fmt, content_type, extension, im.width, im.height)
