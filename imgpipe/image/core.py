"""The shared image core: open safely, orient, resize, watermark, encode.

Pure functions over bytes and Pillow images; no AWS here.  The resize and watermark Lambdas, the
``imgpipe render`` preview and the benchmarks all call these, so what a user previews is what the
pipeline produces.

The order of ``resize`` is the security story (docs/image-handling.md):

1. byte limit, then ``sniff`` names exactly one allowed format from the bytes;
2. ``probe`` scans the container (frames, compressed-metadata bombs) without decoding pixels;
3. ``Image.open(formats=[that format])`` parses the header only; size, pixel, edge and frame
   limits are checked against it;
4. only then is the first frame decoded (JPEG: straight at 1/2 scale when that is safe);
5. colour is converted to 8-bit sRGB, all metadata dropped;
6. the renditions are resampled (largest first, smaller ones cascaded from larger ones) and the
   EXIF orientation applied to them.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import os
import struct
import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from PIL import Image

from imgpipe.config import Limits, PipelineSettings, Rendition
from imgpipe.errors import CORRUPT_IMAGE, IMAGE_TOO_LARGE, UNSUPPORTED_FORMAT, PermanentError
from imgpipe.image import color, exif
from imgpipe.image.probe import probe
from imgpipe.image.sniff import ACCEPTED_HINT, MIME_TYPES, sniff

log = logging.getLogger(__name__)

# Pillow's own bomb guard stays on as a backstop; ours (Limits) is stricter and runs first.
Image.MAX_IMAGE_PIXELS = 100_000_000

OUTPUT_TYPES = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
    "avif": ("AVIF", "image/avif", "avif"),
    "png": ("PNG", "image/png", "png"),
}

# Formats whose extra frames are an animation; for TIFF (pages), HEIF (collections) and JPEG (MPO
# side images) extra images are counted but the primary image is what we render.
ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "AVIF")
FORMAT_LABELS = {"HEIF": "HEIC/HEIF", "WEBP": "WebP"}

# The one piece of metadata that may travel with pixels: the copyright notice (keep_copyright).
# Carried in ``Image.info`` under our own key, which no Pillow encoder reads.
COPYRIGHT_KEY = "imgpipe.copyright"

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
class Encoded:
    name: str
    data: bytes
    format: str  # jpeg | webp | avif | png
    content_type: str
    extension: str
    width: int
    height: int


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


def _label(fmt: str) -> str:
    return FORMAT_LABELS.get(fmt, fmt)


_MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"}


@functools.cache
def keep_freed_memory() -> None:
    """Serve image buffers from the heap and keep freed memory for the next image (glibc only).

    By default glibc hands every large buffer (Pillow allocates images in 16 MB blocks) straight to
    and back from the kernel, so each decode, resize and encode of a warm container page-faults and
    zero-fills fresh memory: ~19 ms of a 53 ms 12 MP decode, 10 % of a whole render
    (docs/performance.md).  Raising the mmap threshold to glibc's own dynamic maximum (32 MB) and
    the trim threshold to 512 MB keeps that memory in the process for the next image.  Peak RSS is
    unchanged (the same bytes are in use at the peak); RSS between invocations stays near the peak
    instead of falling back.  Operators can still choose with glibc's own variables, which this
    leaves alone.  Called on the first image, not at import (cold start).
    """
    if not sys.platform.startswith("linux") or _MALLOC_SETTINGS & set(os.environ):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 512 << 20)


@functools.cache
def _register_heif() -> None:
    # pillow-heif is imported only when a HEIF file arrives: it is a cold-start cost the other
    # formats should not pay.  Depth maps and auxiliary images are never used: don't parse them.
    import pillow_heif

    pillow_heif.register_heif_opener(depth_images=False, aux_images=False)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} MP" if pixels >= 10e6 else f"{pixels / 1e6:.1f} MP"


def check_size(width: int, height: int, limits: Limits, fmt: str) -> None:
    if width <= 0 or height <= 0:
        raise CORRUPT_IMAGE(f"The {_label(fmt)} file is damaged (it claims a {width}x{height} image)")
    if max(width, height) > limits.max_edge:
        raise IMAGE_TOO_LARGE(
            f"The image is {width}x{height} pixels; the longest side may be at most {limits.max_edge}"
        )
    if width * height > limits.max_pixels:
        raise IMAGE_TOO_LARGE(
            f"The image is {width}x{height} pixels ({_megapixels(width * height)}); the limit is {_megapixels(limits.max_pixels)}"
        )


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
        raise IMAGE_TOO_LARGE(f"The image is larger than the limit of {_megapixels(limits.max_pixels)}") from None
    except Exception as exc:  # a hostile header can raise anything from a plugin
        log.info("open failed for %s: %r", fmt, exc)
        raise CORRUPT_IMAGE(f"The {_label(fmt)} file is damaged or incomplete and cannot be read") from None
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
        raise CORRUPT_IMAGE(f"The {_label(fmt)} file is damaged or incomplete and cannot be read") from None


def _check_tiff(im: Image.Image, limits: Limits) -> None:
    tags = getattr(im, "tag_v2", {})
    if 50706 in tags:  # DNGVersion
        raise UNSUPPORTED_FORMAT(f"Camera RAW (DNG) files are not supported; {ACCEPTED_HINT}")
    tile_w, tile_h = tags.get(322), tags.get(323)
    # libtiff allocates a whole tile at a time: a tiny image with a huge tile is a bomb too.
    if isinstance(tile_w, int) and isinstance(tile_h, int) and tile_w * tile_h > limits.max_pixels:
        raise IMAGE_TOO_LARGE(f"The TIFF file's tiles are {tile_w}x{tile_h} pixels, over the limit")


def _target_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Fit the long edge, never upscale."""
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


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
    tw, th = _target_size(width, height, largest_edge)
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
        raise IMAGE_TOO_LARGE(f"The image is larger than the limit of {_megapixels(limits.max_pixels)}") from None
    except Exception as exc:  # truncated data, bad Huffman tables, libtiff/libheif errors, ...
        log.info("decode failed for %s: %r", source.format, exc)
        raise CORRUPT_IMAGE(f"The {_label(source.format)} file is damaged or incomplete and cannot be read") from None
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
        raise UNSUPPORTED_FORMAT(f"This kind of {_label(source.format)} image ({im.mode}) is not supported") from None
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


# Renditions are made largest first, each from the smallest image already made that leaves LANCZOS
# at least CASCADE_GAP of reduction, else from the decoded frame: 800 px from the 1600 px rendition,
# 320 px from the 800 px one.  Filtering an already filtered image twice costs nothing visible once
# the second filter's pass band is well inside the first's: at 2x the cascaded rendition is within
# 0.1 dB of a direct LANCZOS one on the photo and the zone plate (1.5x: 1 dB on the plate, 1.25x:
# 5 dB), and it is 5-20x cheaper than resampling the full frame again.
CASCADE_GAP = 2.0


def _lanczos(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """LANCZOS to ``size``, vertical pass first when both sides shrink.

    Pillow's single ``resize`` filters every source row horizontally first; its vertical pass is
    faster per tap, so running the big pass vertically saves 10-25 % on a camera-sized frame for the
    same number of taps.  ``im`` is RGB or premultiplied RGBa (see ``resize_all``).
    """
    if size[0] < im.width and size[1] < im.height:
        return im.resize((im.width, size[1]), Image.Resampling.LANCZOS).resize(size, Image.Resampling.LANCZOS)
    return im.resize(size, Image.Resampling.LANCZOS)


def resize_all(
    frame: Image.Image, renditions: tuple[Rendition, ...], transpose: Image.Transpose | None = None
) -> list[tuple[Rendition, Image.Image]]:
    """Every rendition of ``frame`` (RGB or RGBA), in the configured order.

    ``transpose`` is the orientation still to apply: the renditions are resampled in the frame's
    stored orientation and only they are turned, not the full frame.  Renditions that need no
    resampling are the frame itself (or its transposition).  ``frame.info`` is copied to each.
    """
    swap = transpose in (
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_270,
    )
    upright = (frame.height, frame.width) if swap else frame.size
    work: Image.Image | None = None  # the frame as resampled: RGBA premultiplied (as Image.resize
    # does), converted once for the whole cascade and only if some rendition needs resampling
    made: list[Image.Image] = []  # resampled renditions, largest first, in work mode
    by_name: dict[str, Image.Image] = {}
    for rendition in sorted(renditions, key=lambda r: -r.long_edge):
        tw, th = _target_size(*upright, rendition.long_edge)
        size = (th, tw) if swap else (tw, th)
        if size == frame.size:
            by_name[rendition.name] = frame
            continue
        twin = next((im for im in made if im.size == size), None)  # e.g. the same size as JPEG and WebP
        if twin is not None:
            by_name[rendition.name] = twin
            continue
        parent = next((im for im in reversed(made) if max(im.size) >= CASCADE_GAP * max(size)), None)
        if parent is None:
            if work is None:
                work = frame.convert("RGBa") if frame.mode == "RGBA" else frame
            parent = work
        image = parent if parent.size == size else _lanczos(parent, size)
        made.append(image)
        by_name[rendition.name] = image
    out = []
    finished: dict[int, Image.Image] = {}
    for rendition in renditions:
        image = by_name[rendition.name]
        if id(image) not in finished:  # two renditions of the same size share one image
            done = image.convert("RGBA") if image.mode == "RGBa" else image
            finished[id(image)] = done.transpose(transpose) if transpose is not None else done
        out.append((rendition, finished[id(image)]))
    return out


def resize(data: bytes, settings: PipelineSettings) -> tuple[SourceInfo, list[tuple[Rendition, Image.Image]]]:
    keep_freed_memory()
    source = open_checked(data, settings.limits)
    largest = max(r.long_edge for r in settings.renditions)
    decoded = decode(source, largest, settings.limits, orient=False)
    info = source_info(source, decoded, data)
    frame = decoded.image
    if settings.keep_copyright and decoded.copyright:
        frame.info[COPYRIGHT_KEY] = decoded.copyright  # resize(), convert() and transpose() copy info
    return info, resize_all(frame, settings.renditions, decoded.transpose)


# ---- lossless hand-off between the resize and watermark steps ----------------------------------
# The intermediate is the rendition's raw pixels behind a fixed 16-byte header (big-endian):
#
#   magic b"IPRW" | version u8 (1) | bands u8 (3 = RGB, 4 = RGBA) | width u32 | height u32 |
#   copyright length u16 | copyright (UTF-8, only with keep_copyright) | width*height*bands bytes
#
# Encoding is ``Image.tobytes()`` and decoding ``Image.frombuffer``: a few milliseconds for a
# 1600 px rendition where PNG at compress_level=1 cost ~150 ms (docs/performance.md).  The objects
# are larger (5.8 MB for 1600x1200 RGB) but live a day at most, and the S3 PUT/GET of a few MB
# costs less CPU than the compression it replaces.  Decoding trusts nothing: magic, version, mode,
# sizes and the exact length are checked, and a mismatch is CORRUPT_IMAGE.
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
    im = Image.frombuffer(mode, (width, height), memoryview(data)[start:], "raw", mode, 0, 1)
    im.info = {COPYRIGHT_KEY: copyright_line} if copyright_line else {}
    return im


def _bad_intermediate(detail: str) -> CORRUPT_IMAGE:
    log.warning("bad intermediate: %s", detail)
    return CORRUPT_IMAGE(
        "The resized image handed to the watermark step is damaged; re-uploading the image should fix it"
    )


def _without_info(im: Image.Image) -> Image.Image:
    """``im`` with an empty ``info`` (several Pillow encoders read ICC, comments and more from it)."""
    if not im.info:
        return im
    im.load()
    clean = im._new(im.im)  # shares the pixel memory: no copy
    clean.info = {}
    return clean


# ---- encoding -----------------------------------------------------------------------------------
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
