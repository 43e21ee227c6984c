"""What we read from an image's metadata, and nothing more.

Renditions carry no metadata at all (see ``encoding.encode``).  The image record keeps a handful of
bounded, non-sensitive facts: camera make and model, capture time, and *whether* GPS data was
present, never the coordinates.  Every string is type-checked, stripped of control characters and
length-capped; a malformed EXIF block yields no facts rather than a failed image.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

MAX_TEXT = 64  # make, model
MAX_COPYRIGHT = 200

TAG_ORIENTATION = 0x0112
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME = 0x0132
TAG_COPYRIGHT = 0x8298
IFD_EXIF = 0x8769
IFD_GPS = 0x8825
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011

# The one piece of metadata that may travel with pixels: the copyright notice (keep_copyright).
# Carried from decoding to encoding in ``Image.info`` under our own key, which no Pillow encoder reads.
COPYRIGHT_KEY = "imgpipe.copyright"

_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
_XMP_GPS = re.compile(rb"GPS(Latitude|Longitude)")


def clean_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A printable, single-line, length-capped string; None if nothing printable is left."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value[: limit * 4]  # bound the work before normalising
    kept = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in value.replace("\ufffd", " "))
    kept = " ".join(kept.split())[:limit].strip()
    return kept or None


def _exif(im: Image.Image) -> Image.Exif | None:
    try:
        return im.getexif()
    except Exception as exc:  # malformed EXIF must not fail the image
        log.info("unreadable EXIF ignored: %s", exc)
        return None


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:
        return {}


def orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8; anything else (absent, 0, 9, text, a tuple) counts as 1."""
    exif = _exif(im)
    if exif is None:
        return 1
    try:
        value = exif.get(TAG_ORIENTATION, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8 else 1


def _capture_time(exif: Image.Exif) -> str | None:
    sub = _ifd(exif, IFD_EXIF)
    raw = clean_text(sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME), 32)
    match = _EXIF_TIME.match(raw or "")
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    if not (
        1800 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60
    ):
        return None
    stamp = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    offset = clean_text(sub.get(TAG_OFFSET_TIME_ORIGINAL), 8)
    return stamp + offset if offset and _OFFSET.match(offset) else stamp


def _gps_present(im: Image.Image, exif: Image.Exif | None) -> bool:
    if exif is not None:
        try:
            if IFD_GPS in exif or _ifd(exif, IFD_GPS):
                return True
        except Exception:
            pass
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    return bool(isinstance(xmp, bytes) and _XMP_GPS.search(xmp[: 1 << 20]))


def camera_facts(im: Image.Image) -> dict[str, Any]:
    """Bounded, non-sensitive facts for the image record (``SourceInfo.camera``)."""
    exif = _exif(im)
    facts: dict[str, Any] = {}
    if exif is not None:
        try:
            make = clean_text(exif.get(TAG_MAKE))
            model = clean_text(exif.get(TAG_MODEL))
            captured = _capture_time(exif)
        except Exception as exc:
            log.info("unreadable EXIF fields ignored: %s", exc)
            make = model = captured = None
        if make:
            facts["make"] = make
        if model:
            facts["model"] = model
        if captured:
            facts["captured_at"] = captured
    facts["gps_present"] = _gps_present(im, exif)
    return facts


def copyright_line(im: Image.Image) -> str | None:
    """The EXIF copyright notice, cleaned, for ``keep_copyright``; None if there is none."""
    exif = _exif(im)
    if exif is None:
        return None
    try:
        return clean_text(exif.get(TAG_COPYRIGHT), MAX_COPYRIGHT)
    except Exception:
        return None


def copyright_exif(text: str) -> bytes:
    """An EXIF block holding the copyright notice and nothing else."""
    exif = Image.Exif()
    exif[TAG_COPYRIGHT] = text
    return exif.tobytes()
