"""Colour: every decoded frame leaves here as 8-bit sRGB, RGB or RGBA.

* Untagged and sRGB-tagged images only change mode (no colour management, no ImageCms import).
* Any other embedded ICC profile (Display P3 from phones, Adobe RGB, a CMYK press profile, a
  grey gamma profile) is converted to sRGB through littleCMS (``PIL.ImageCms``), imported lazily.
* CMYK/YCCK without a profile falls back to Pillow's naive conversion (there is no standard CMYK
  to assume and no profile ships with the code); a profile that littleCMS rejects is ignored.
* 16-bit greyscale is scaled to 8 bits (Pillow's own conversion would clip it to white).
"""

from __future__ import annotations

import hashlib
import io
import logging
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from PIL import Image

if TYPE_CHECKING:  # ImageCms itself is imported only for an image that needs it
    from PIL.ImageCms import ImageCmsProfile, ImageCmsTransform

log = logging.getLogger(__name__)

# Modes whose samples are wider than 8 bits (PNG/TIFF 16-bit grey, 32-bit int/float TIFF).
_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_PROFILE_SPACES = {"RGB": b"RGB ", "RGBA": b"RGB ", "CMYK": b"CMYK", "L": b"GRAY", "LA": b"GRAY"}


def has_alpha(im: Image.Image) -> bool:
    """Whether the mode can carry transparency (not whether any pixel is transparent)."""
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info)


# ---- ICC header parsing (no ImageCms needed) ----------------------------------------------------
def icc_colour_space(profile: bytes) -> bytes | None:
    if len(profile) < 132 or profile[36:40] != b"acsp":
        return None
    return profile[16:20]


def icc_description(profile: bytes) -> str:
    """The profile's description tag ('desc'), v2 or v4 encoding; '' if absent or malformed."""
    try:
        count = int.from_bytes(profile[128:132], "big")
        for i in range(min(count, 100)):
            entry = 132 + 12 * i
            if profile[entry : entry + 4] != b"desc":
                continue
            offset = int.from_bytes(profile[entry + 4 : entry + 8], "big")
            size = int.from_bytes(profile[entry + 8 : entry + 12], "big")
            tag = profile[offset : offset + size]
            if tag[:4] == b"desc":  # v2 textDescriptionType: count, ASCII
                n = int.from_bytes(tag[8:12], "big")
                return tag[12 : 12 + n].split(b"\x00")[0].decode("latin-1")
            if tag[:4] == b"mluc":  # v4 multiLocalizedUnicodeType: first record, UTF-16BE
                length = int.from_bytes(tag[20:24], "big")
                start = int.from_bytes(tag[24:28], "big")
                return tag[start : start + length].decode("utf-16-be", "replace")
    except (IndexError, ValueError):
        pass
    return ""


def is_srgb(profile: bytes) -> bool:
    """Profiles that describe themselves as sRGB need no conversion (the common case: skip lcms)."""
    description = icc_description(profile).lower()
    return "srgb" in description and "scrgb" not in description


def needs_conversion(im: Image.Image) -> bool:
    profile = im.info.get("icc_profile")
    return isinstance(profile, bytes) and bool(profile) and not is_srgb(profile)


# ---- conversion ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=16)
def _transform(digest: str, profile: bytes, in_mode: str, out_mode: str) -> ImageCmsTransform:
    from PIL import ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    return ImageCms.buildTransform(source, _srgb_profile(), in_mode, out_mode, ImageCms.Intent.PERCEPTUAL)


def _profile_transform(profile: bytes, in_mode: str, out_mode: str) -> ImageCmsTransform | None:
    try:
        return _transform(hashlib.sha1(profile).hexdigest(), profile, in_mode, out_mode)
    except Exception as exc:  # ImageCms.PyCMSError, OSError: a profile lcms cannot use
        log.warning("ignoring an unusable ICC profile: %s", exc)
        return None


def _scale_wide(im: Image.Image) -> Image.Image:
    """16/32-bit single-channel → 8-bit L by scaling, not clipping (Pillow's convert clips)."""
    if im.mode not in ("I", "F"):
        return im.convert("I").point(lambda v: v / 257 + 0.5).convert("L")  # I;16 variants, rounded
    high = cast(float, im.getextrema()[1])  # one band: (low, high)
    if im.mode == "F" and high <= 1.0:
        return im.point(lambda v: v * 255 + 0.5).convert("L")  # float images in 0..1
    if high <= 255:
        return im.convert("L")
    divisor = 257 if high <= 65535 else high / 255
    return im.point(lambda v: v / divisor + 0.5).convert("L")


def to_srgb(im: Image.Image) -> Image.Image:
    """Return an 8-bit sRGB image in mode RGB or RGBA.  ``im`` may be returned (converted in place)."""
    profile: bytes | None = im.info.get("icc_profile") or None
    if im.mode == "LAB":
        return _lab_to_srgb(im)
    if im.mode in _WIDE_MODES:
        im = _scale_wide(im)
    elif has_alpha(im) and im.mode not in ("RGBA", "LA"):
        im = im.convert("RGBA")  # palette/grey/RGB with a transparent colour, PA, premultiplied
    elif im.mode not in ("RGB", "RGBA", "L", "LA", "CMYK"):
        im = im.convert("RGB")  # 1-bit, opaque palette, YCbCr, RGBX

    if profile and not is_srgb(profile):
        if _PROFILE_SPACES.get(im.mode) == icc_colour_space(profile):
            converted = _apply_profile(im, profile)
            if converted is not None:
                return converted
        else:
            log.warning("ignoring an ICC profile of colour space %r on a %s image", icc_colour_space(profile), im.mode)

    if im.mode in ("RGB", "RGBA"):
        return im
    return im.convert("RGBA" if im.mode == "LA" else "RGB")


def _apply_profile(im: Image.Image, profile: bytes) -> Image.Image | None:
    if im.mode in ("RGB", "RGBA"):
        transform = _profile_transform(profile, im.mode, im.mode)
        if transform is None:
            return None
        transform.apply_in_place(im)  # alpha is carried through untouched
        return im
    if im.mode == "CMYK":
        transform = _profile_transform(profile, "CMYK", "RGB")
        return None if transform is None else transform.apply(im)
    # Grey (L or LA) with a grey profile.
    transform = _profile_transform(profile, "L", "RGB")
    if transform is None:
        return None
    grey = im.getchannel("L") if im.mode == "LA" else im
    rgb = transform.apply(grey)
    if im.mode == "LA":
        rgb.putalpha(im.getchannel("A"))
    return rgb


def _lab_to_srgb(im: Image.Image) -> Image.Image:
    from PIL import ImageCms

    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), _srgb_profile(), "LAB", "RGB", ImageCms.Intent.PERCEPTUAL
    )
    return transform.apply(im)


def drop_opaque_alpha(im: Image.Image) -> Image.Image:
    """RGBA whose every pixel is opaque becomes RGB: smaller renditions, and ``auto`` picks JPEG."""
    if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] == 255:
        return im.convert("RGB")
    return im
