"""Format detection from the bytes alone: never from the file name or the declared content type."""

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

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

# Recognised but refused: naming them gives the user a precise error instead of "not an image".
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"qoif", "QOI"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"P1", "PBM"),
    (b"P2", "PGM"),
    (b"P3", "PPM"),
    (b"P4", "PBM"),
    (b"P5", "PGM"),
    (b"P6", "PPM"),
    (b"DDS ", "DDS"),
    (b"icns", "ICNS"),
    (b"gimp xcf", "XCF"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "GZIP"),
)
_REFUSED_TEXT_MARKERS: tuple[tuple[bytes, str], ...] = (
    (b"<svg", "SVG"),
    (b"<!doctype svg", "SVG"),
    (b"push graphic-context", "MVG"),
    (b"viewbox", "MVG"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
)


def sniff(data: bytes) -> str:
    """Return the Pillow format name for ``data`` or raise a permanent error saying why not."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 32), 4)}
        if head[8:12] in _AVIF_BRANDS:
            return "AVIF"
        if head[8:12] in _HEIF_BRANDS or brands & _HEIF_BRANDS:
            return "HEIF"
        if brands & _AVIF_BRANDS:
            return "AVIF"
        raise UNSUPPORTED_FORMAT(f"ISO media file with brand {head[8:12]!r} is not an image format we accept")
    for signature, name in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            raise UNSUPPORTED_FORMAT(f"{name} files are not accepted; upload {', '.join(ALLOWED)}")
    lowered = data[:4096].lower()
    for marker, name in _REFUSED_TEXT_MARKERS:
        if marker in lowered:
            raise UNSUPPORTED_FORMAT(f"{name} files are not accepted; upload {', '.join(ALLOWED)}")
    raise NOT_AN_IMAGE("the data is not an image in any format we recognise")
