"""What an upload is called and declared as: the content-type policy and the filename in its key.

The declared type is a hint (the resize step sniffs the bytes against the format allow-list), so
the API accepts what real clients declare for images (any ``image/*``, and
``application/octet-stream``, which browsers send for extensions they do not know) and refuses
only types that say the file is no image (text, PDF, HTML, scripts, SVG).  The filename keeps its
letters and digits in any script; everything else that could confuse a URL, a path, a log or a
reader (separators, controls, bidirectional overrides, invisible characters) becomes ``_``.

Shipped with the API function; the client and the CLI use the same rules to declare their uploads.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from pathlib import PurePath

OCTET_STREAM = "application/octet-stream"
# Spellings of a type that clients send, mapped to the registered one.
CONTENT_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/x-tiff": "image/tiff",
    "binary/octet-stream": OCTET_STREAM,
}
# image/* types that are documents rather than pictures: SVG can carry scripts and links.
REFUSED_IMAGE_TYPES = frozenset({"image/svg+xml"})
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")

# File extensions of images, with the type a browser (or the desktop's MIME database) gives each,
# for those Python's own table lacks or names otherwise; anything else: Python's table, then
# application/octet-stream, as a browser sends for an extension it does not know.
IMAGE_EXTENSION_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg", ".jfif": "image/jpeg",
    ".pjpeg": "image/jpeg", ".pjp": "image/jpeg",
    ".png": "image/png", ".apng": "image/apng", ".gif": "image/gif", ".webp": "image/webp",
    ".avif": "image/avif", ".avifs": "image/avif", ".heic": "image/heic", ".heif": "image/heif",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp", ".dib": "image/bmp",
    ".ico": "image/x-icon", ".jxl": "image/jxl", ".svg": "image/svg+xml",
}  # fmt: skip
_PYTHON_TYPES = mimetypes.MimeTypes()  # Python's built-in table only: not this machine's /etc/mime.types

MAX_FILENAME_CHARS = 200  # what a client may send
MAX_FILENAME_BYTES = 200  # what is kept: UTF-8 bytes of the name in the key (S3 allows 1024 for all of it)
_EXTENSION = re.compile(r"\.[^\W_]{1,10}$")  # letters or digits after the last dot
FALLBACK_STEM = "image"  # a name with an extension but no letter or digit before it ("🐱.png")


class UploadRefused(ValueError):
    """The upload request cannot be accepted; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# ---- content types ---------------------------------------------------------------------------------
def normalise_content_type(declared: str | None) -> str:
    """The declared type as the upload URL signs it: lower case, without parameters (``; charset``),
    common aliases replaced (``image/jpg``), and ``application/octet-stream`` when none was given."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    return CONTENT_TYPE_ALIASES.get(value, value) or OCTET_STREAM


def upload_content_type(declared: str | None) -> str:
    """The normalised type if an upload may declare it, else UploadRefused(UNSUPPORTED_CONTENT_TYPE)."""
    content_type = normalise_content_type(declared)
    if not _MEDIA_TYPE.fullmatch(content_type):
        raise UploadRefused(
            "UNSUPPORTED_CONTENT_TYPE", f"contentType must be a media type such as image/jpeg, not {declared!r}"
        )
    if content_type in REFUSED_IMAGE_TYPES:
        raise UploadRefused(
            "UNSUPPORTED_CONTENT_TYPE", f"{content_type} is a document, not a picture: upload a raster image"
        )
    if not content_type.startswith("image/") and content_type != OCTET_STREAM:
        raise UploadRefused(
            "UNSUPPORTED_CONTENT_TYPE",
            f"contentType must be an image type (image/*) or {OCTET_STREAM}, not {content_type}",
        )
    return content_type


def guess_content_type(path: str | PurePath) -> str:
    """The type a browser would declare for this file name (``File.type``), or octet-stream."""
    suffix = PurePath(path).suffix.lower()
    guessed = IMAGE_EXTENSION_TYPES.get(suffix) or _PYTHON_TYPES.guess_type("f" + suffix)[0]
    return guessed or OCTET_STREAM


# ---- filenames -------------------------------------------------------------------------------------
def _kept(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN" or char in "._-"


def _sanitised(name: str) -> str:
    """Letters, digits (any script), ``.``, ``-``, ``_`` and the combining marks that follow a letter
    or digit; every run of anything else (spaces, punctuation, symbols and emoji, controls,
    bidirectional overrides, zero-width and other invisible characters) becomes one ``_``."""
    out: list[str] = []
    for char in name:
        category = unicodedata.category(char)
        if _kept(char):
            out.append(char)
        elif category[0] == "M" and out and unicodedata.category(out[-1])[0] in "LNM":
            out.append(char)  # an accent or vowel sign on the letter before it (Devanagari, Arabic, ...)
        elif not out or out[-1] != "_":
            out.append("_")
    return "".join(out)


def _truncated(text: str, max_bytes: int) -> str:
    """At most max_bytes of UTF-8, cut before a character, never between a letter and its marks."""
    if len(text.encode()) <= max_bytes:
        return text
    cut = text.encode()[:max_bytes].decode(errors="ignore")
    while cut and unicodedata.category(text[len(cut)])[0] == "M":
        cut = cut[:-1]
    return cut


def safe_filename(name: str | None) -> str:
    """The name kept for an upload (the record's ``filename`` and the last part of its key):
    the last path segment, NFC-normalised, sanitised as above, without leading or trailing dots
    and underscores, at most MAX_FILENAME_BYTES of UTF-8.  UploadRefused(INVALID_FILENAME) when
    nothing usable is left."""
    if not name:
        raise UploadRefused("INVALID_FILENAME", "filename is required")
    if len(name) > MAX_FILENAME_CHARS:
        raise UploadRefused("INVALID_FILENAME", f"filename must be at most {MAX_FILENAME_CHARS} characters")
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    safe = _sanitised(base).rstrip("._")
    extension_match = _EXTENSION.search(safe)
    extension = extension_match.group(0) if extension_match else ""
    stem = safe[: len(safe) - len(extension)].lstrip("._")  # no hidden files, no ".."
    if not any(unicodedata.category(c)[0] in "LN" for c in stem):
        if not extension:
            raise UploadRefused("INVALID_FILENAME", "filename has no usable characters (letters or digits)")
        stem = FALLBACK_STEM
    kept = _truncated(stem, MAX_FILENAME_BYTES - len(extension.encode()))
    return (kept if kept == stem else kept.rstrip("._")) + extension


def is_kept_filename(name: str) -> bool:
    """Whether ``name`` is one ``safe_filename`` produces (it leaves such a name as it is): the resize
    step processes only keys whose last part the API could have chosen."""
    try:
        return safe_filename(name) == name
    except UploadRefused:
        return False
