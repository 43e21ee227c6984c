"""Format detection from the bytes alone: never from the file name or the declared content type.

``sniff`` names exactly one allowed format or raises.  The caller then opens the bytes with
``Image.open(..., formats=[that one])``, so no other Pillow plugin ever sees the data: a PSD, an
EPS (Ghostscript!), an ICO or a JPEG 2000 file is refused here, before any decoder runs.
"""

from __future__ import annotations

from imgpipe.errors import NOT_AN_IMAGE, UNSUPPORTED_FORMAT

# Formats we decode, by the name Pillow's plugin registers.  Nothing else is ever handed to a
# decoder: Image.open is always called with formats=[the one sniffed here].
ALLOWED = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP", "HEIF")

MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "HEIF": "image/heif",
}

ACCEPTED_HINT = "upload a JPEG, PNG, GIF, WebP, AVIF, TIFF, BMP or HEIC image"

_AVIF_BRANDS = {b"avif", b"avis"}
# Brands that name HEVC coding; mif1/msf1 are generic HEIF brands (AVIF files carry them too).
_HEVC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_GENERIC_HEIF_BRANDS = {b"mif1", b"msf1", b"miaf"}

# Recognised but refused: naming them gives the user a precise error instead of "not an image".
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"qoif", "QOI"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"DDS ", "DDS"),
    (b"icns", "ICNS"),
    (b"gimp xcf", "XCF"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"FUJIFILMCCD-RAW", "camera RAW"),
    (b"IIRO", "camera RAW"),
    (b"IIRS", "camera RAW"),
    (b"IIU\x00", "camera RAW"),
)
# Netpbm: "P1".."P7" followed by whitespace.
_NETPBM = {b"P%d" % i for i in range(1, 8)}
# Not images at all: said as such (NOT_AN_IMAGE) rather than "unsupported image format".
_NOT_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
)
_REFUSED_TEXT_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"<svg", "SVG"),
    (b"<!doctype svg", "SVG"),
)
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")
_MVG_STARTS = (b"push graphic-context", b"viewbox ")


def _ftyp_brands(head: bytes) -> tuple[bytes, set[bytes]]:
    """Major brand and every brand (major + compatible) of an ISO-BMFF ``ftyp`` box."""
    size = int.from_bytes(head[0:4], "big")
    end = min(len(head), max(16, size))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, end - 3, 4)}
    return head[8:12], brands


def _iso_media_format(data: bytes) -> str:
    major, brands = _ftyp_brands(data[:128])
    if brands & _HEVC_BRANDS:
        return "HEIF"
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _GENERIC_HEIF_BRANDS:
        # A generic HEIF container: the coded item type says which codec (and so which decoder).
        window = data[:65536]
        if b"av01" in window:
            return "AVIF"
        if b"hvc1" in window:
            return "HEIF"
        raise UNSUPPORTED_FORMAT(f"This HEIF variant is not supported; {ACCEPTED_HINT}")
    label = major.decode("latin-1").strip() or "?"
    if major == b"crx ":
        raise UNSUPPORTED_FORMAT(f"Camera RAW files are not supported; {ACCEPTED_HINT}")
    raise UNSUPPORTED_FORMAT(f"Video and other media files (brand {label!r}) are not supported; {ACCEPTED_HINT}")


def _looks_like_text(sample: bytes) -> bool:
    if not sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a multi-byte character cut at the end
            return False
        text = sample[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return printable >= 0.95 * len(text)


def sniff(data: bytes) -> str:
    """Return the Pillow format name for ``data`` or raise a permanent error saying why not."""
    if not data:
        raise NOT_AN_IMAGE("The file is empty")
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        if head[8:10] == b"CR":
            raise UNSUPPORTED_FORMAT(f"Camera RAW files are not supported; {ACCEPTED_HINT}")
        return "TIFF"
    if (
        head[:2] == b"BM"
        and len(head) >= 26
        and int.from_bytes(head[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124)
    ):
        return "BMP"
    if head[4:8] == b"ftyp":
        return _iso_media_format(data)
    for signature, name in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            raise UNSUPPORTED_FORMAT(f"{name} files are not supported; {ACCEPTED_HINT}")
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and head[4:6] != b"\x00\x00" and head[9:10] == b"\x00":
        raise UNSUPPORTED_FORMAT(f"Icon (ICO/CUR) files are not supported; {ACCEPTED_HINT}")
    if data.endswith(b"TRUEVISION-XFILE.\x00"):
        raise UNSUPPORTED_FORMAT(f"TGA files are not supported; {ACCEPTED_HINT}")
    if head[:2] in _NETPBM and head[2:3] in (b" ", b"\t", b"\r", b"\n"):
        raise UNSUPPORTED_FORMAT(f"Netpbm files are not supported; {ACCEPTED_HINT}")
    for signature, what in _NOT_IMAGE_SIGNATURES:
        if head.startswith(signature):
            raise NOT_AN_IMAGE(f"The file is {what}, not an image")
    lowered = data[:4096].lower()
    stripped = lowered.lstrip(b"\xef\xbb\xbf \t\r\n")
    for marker, name in _REFUSED_TEXT_MARKERS:
        if marker in lowered:
            raise UNSUPPORTED_FORMAT(f"{name} files are not supported; {ACCEPTED_HINT}")
    if stripped.startswith(_MVG_STARTS):
        raise UNSUPPORTED_FORMAT(f"MVG files are not supported; {ACCEPTED_HINT}")
    if any(marker in lowered for marker in _HTML_MARKERS):
        raise NOT_AN_IMAGE("The file is a web page (HTML), not an image")
    if _looks_like_text(data[:1024]):
        raise NOT_AN_IMAGE("The file is text, not an image")
    raise NOT_AN_IMAGE("The file is not an image in any format we recognise")
