"""The test corpus: small real and crafted image files, all generated here, deterministically.

Nothing is downloaded or checked in, so there is no licence to track and no binary to trust: every
file is built from Pillow/pillow-heif encoders or written byte by byte (for what encoders refuse
to produce: interlaced or 16-bit RGB PNG, YCCK JPEG, lying headers, bombs, polyglots).

``refused_files()`` is the contract with the workflow tests: (name, bytes, expected error code),
each file small (< 200 KB) and quick to refuse.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from functools import lru_cache

from PIL import Image, ImageDraw

# ---- pixels -------------------------------------------------------------------------------------
# Quadrant markers for orientation tests: each corner of the *upright* image has its own colour.
QUADRANTS = {
    "top-left": (230, 25, 25),  # red
    "top-right": (25, 200, 40),  # green
    "bottom-left": (30, 40, 230),  # blue
    "bottom-right": (245, 225, 20),  # yellow
}


def quadrants(width: int = 96, height: int = 64) -> Image.Image:
    """Upright reference: four solid quadrants, colours from QUADRANTS."""
    im = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(im)
    w2, h2 = width // 2, height // 2
    draw.rectangle((0, 0, w2 - 1, h2 - 1), fill=QUADRANTS["top-left"])
    draw.rectangle((w2, 0, width - 1, h2 - 1), fill=QUADRANTS["top-right"])
    draw.rectangle((0, h2, w2 - 1, height - 1), fill=QUADRANTS["bottom-left"])
    draw.rectangle((w2, h2, width - 1, height - 1), fill=QUADRANTS["bottom-right"])
    return im


def photo(width: int = 320, height: int = 240, seed: int = 0) -> Image.Image:
    """A smooth, photo-like RGB test image (gradients, discs and lines); deterministic."""
    gradient = Image.linear_gradient("L").resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    rotated = gradient.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    im = Image.merge("RGB", (gradient, radial, rotated))
    draw = ImageDraw.Draw(im)
    for i in range(6):
        k = (seed * 7 + i * 13) % 17
        cx, cy = (k * 37 + i * 53) % width, (k * 29 + i * 71) % height
        r = 6 + (k * 5) % max(8, min(width, height) // 4)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=((k * 40) % 256, (i * 60) % 256, (k * i * 25) % 256))
    for i in range(0, width, max(4, width // 12)):
        draw.line((i, 0, width - i, height), fill=(255 - i % 256, 255, i % 256), width=1)
    return im


def zone_plate(width: int = 1200, height: int = 900) -> Image.Image:
    """Circular zone plate: the spatial frequency rises with the radius up to ~0.45 cycles/pixel
    in the corners, so any downscale that does not low-pass first shows moiré (aliasing)."""
    r_max = math.hypot(width / 2, height / 2)
    k = math.pi * 0.45 / r_max  # phase = k r^2 → local frequency k r / π cycles per pixel
    rows = bytearray(width * height)
    cx, cy = width / 2, height / 2
    for y in range(height):
        dy2 = (y - cy) ** 2
        base = y * width
        for x in range(width):
            rows[base + x] = int(127.5 + 127 * math.cos(k * ((x - cx) ** 2 + dy2)))
    return Image.frombytes("L", (width, height), bytes(rows)).convert("RGB")


@lru_cache(maxsize=4)
def zone_plate_cached(width: int = 1200, height: int = 900) -> Image.Image:
    return zone_plate(width, height)


def save(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


# ---- orientation ----------------------------------------------------------------------------------
# EXIF orientation N says how the stored pixels must be transformed for display (0th row / 0th
# column): 1 top/left, 2 top/right (mirrored), 3 bottom/right (180°), 4 bottom/left (flipped),
# 5 left/top (transposed), 6 right/top (rotate 90° clockwise to view), 7 right/bottom
# (transverse), 8 left/bottom (rotate 90° counter-clockwise to view).  To *make* such a file we
# store the upright picture transformed the opposite way.
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored turned counter-clockwise; viewer turns it clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def exif_bytes(orientation=None, **tags) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    for tag, value in tags.items():
        exif[int(tag.lstrip("t"), 16) if tag.startswith("t") else int(tag)] = value
    return exif.tobytes()


def oriented(orientation: int, fmt: str = "JPEG", width: int = 96, height: int = 64) -> bytes:
    """The quadrant picture stored so that EXIF ``orientation`` makes it upright again."""
    upright = quadrants(width, height)
    method = STORE_AS[orientation]
    stored = upright.transpose(method) if method is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"exif": exif.tobytes()}
    if fmt == "JPEG":
        options["quality"] = 95
    elif fmt in ("WEBP", "AVIF", "HEIF"):
        options["quality"] = 90
    if fmt == "HEIF":
        _heif()
    return save(stored, fmt, **options)


def raw_orientation_exif(value) -> bytes:
    """An EXIF block whose only entry is Orientation, written by hand so that it can hold what
    Pillow would refuse to write: text, two values, a LONG."""
    if isinstance(value, str):
        typ, count, inline = 2, len(value) + 1, (value.encode() + b"\x00").ljust(4, b"\x00")[:4]
    elif isinstance(value, tuple):
        typ, count, inline = 3, len(value), b"".join(struct.pack(">H", v) for v in value[:2]).ljust(4, b"\x00")
    elif value > 0xFFFF:
        typ, count, inline = 4, 1, struct.pack(">I", value)
    else:
        typ, count, inline = 3, 1, struct.pack(">H", value) + b"\x00\x00"
    ifd = struct.pack(">H", 1) + struct.pack(">HHI", 0x0112, typ, count) + inline + struct.pack(">I", 0)
    return b"Exif\x00\x00" + b"MM\x00*" + struct.pack(">I", 8) + ifd


def with_raw_orientation(value, fmt: str = "JPEG") -> bytes:
    """Quadrants stored upright, tagged with an out-of-range or malformed orientation value."""
    return save(quadrants(), fmt, exif=raw_orientation_exif(value), **({"quality": 95} if fmt == "JPEG" else {}))


def _heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()


# ---- PNG written by hand (interlaced, 16-bit RGB, crafted chunks) -----------------------------
def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _scanlines(raw_rows: list[bytes]) -> bytes:
    return b"".join(b"\x00" + row for row in raw_rows)  # filter type 0 (None) on every row


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_bytes(
    pixels: list[list[tuple[int, ...]]],
    color_type: int,
    bit_depth: int = 8,
    interlace: bool = False,
    before_idat: tuple[bytes, ...] = (),
    after_idat: tuple[bytes, ...] = (),
) -> bytes:
    """A PNG from a row-major list of pixel tuples (colour types 0, 2, 4, 6; depth 8 or 16)."""
    height, width = len(pixels), len(pixels[0])
    fmt = ">H" if bit_depth == 16 else ">B"

    def row_bytes(row: list[tuple[int, ...]]) -> bytes:
        return b"".join(struct.pack(fmt, s) for px in row for s in px)

    if interlace:
        passes = []
        for x0, y0, dx, dy in _ADAM7:
            sub = [[pixels[y][x] for x in range(x0, width, dx)] for y in range(y0, height, dy)]
            sub = [r for r in sub if r]
            if sub:
                passes.append(_scanlines([row_bytes(r) for r in sub]))
        raw = b"".join(passes)
    else:
        raw = _scanlines([row_bytes(r) for r in pixels])
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + b"".join(before_idat)
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + b"".join(after_idat)
        + png_chunk(b"IEND", b"")
    )


def gradient_pixels(width: int, height: int, channels: int, depth: int = 8) -> list[list[tuple[int, ...]]]:
    top = (1 << depth) - 1
    rows = []
    for y in range(height):
        row = []
        for x in range(width):
            r = x * top // max(1, width - 1)
            g = y * top // max(1, height - 1)
            b = (x + y) * top // max(1, width + height - 2)
            px = {
                1: (r,),
                2: (r, top * ((x // 4 + y // 4) % 2)),
                3: (r, g, b),
                4: (r, g, b, top if x < width // 2 else top // 4),
            }[channels]
            row.append(px)
        rows.append(row)
    return rows


# ---- ICC profiles written by hand ---------------------------------------------------------------
# sRGB primaries adapted to D50 (what an sRGB ICC profile stores) and the D50 white.
SRGB_D50 = ((0.4360747, 0.3850649, 0.1430804), (0.2225045, 0.7168786, 0.0606169), (0.0139322, 0.0971045, 0.7141733))
D50 = (0.9642, 1.0, 0.8249)


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + b"\x00" * 4 + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\x00"
    return b"desc" + b"\x00" * 4 + struct.pack(">I", len(ascii_)) + ascii_ + b"\x00" * (4 + 4 + 2 + 1 + 67)


def _text_tag(text: str) -> bytes:
    return b"text" + b"\x00" * 4 + text.encode("ascii") + b"\x00"


def _icc(device_class: bytes, space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    count = len(tags)
    offset = 128 + 4 + 12 * count
    table, blobs = b"", b""
    for sig, data in tags:
        pad = (-len(data)) % 4
        table += sig + struct.pack(">II", offset + len(blobs), len(data))
        blobs += data + b"\x00" * pad
    size = offset + len(blobs)
    header = (
        struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + device_class + space + pcs
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"APPL" + b"\x00" * 4 + b"none" + b"none"
        + b"\x00" * 8 + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50) + b"none" + b"\x00" * 16 + b"\x00" * 28
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", count) + table + blobs


def _mat_mul(m, v):
    return tuple(sum(m[i][j] * v[j] for j in range(3)) for i in range(3))


def srgb_decode(v: float) -> float:
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def srgb_encode(v: float) -> float:
    v = min(1.0, max(0.0, v))
    return v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055


def _inverse3(m):
    a, b, c = m[0]
    d, e, f = m[1]
    g, h, i = m[2]
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


# The test press: what a CMYK ink mix looks like, as sRGB in 0..1.  Deliberately far from Pillow's
# naive "255 - C - K" (impure inks, dot gain) so a test can tell a profile conversion from it.
def press_cmyk_to_srgb(c: float, m: float, y: float, k: float) -> tuple[float, float, float]:
    r = (1 - c) * (1 - 0.10 * m) * (1 - k)
    g = (1 - m) * (1 - 0.35 * c) * (1 - 0.05 * y) * (1 - k)
    b = (1 - y) * (1 - 0.20 * c) * (1 - 0.15 * m) * (1 - k)
    return (r**1.3, g**1.3, b**1.3)


CMYK_GRID = 6  # CLUT nodes at 8-bit values 0, 51, 102, 153, 204, 255 (multiples of 51 are exact)


@lru_cache(maxsize=1)
def cmyk_profile() -> bytes:
    """An ICC v2 output profile (CMYK → XYZ via a 6^4 CLUT) for the test press above."""
    n = CMYK_GRID
    clut = bytearray()
    for ci in range(n):
        for mi in range(n):
            for yi in range(n):
                for ki in range(n):
                    rgb = press_cmyk_to_srgb(ci / (n - 1), mi / (n - 1), yi / (n - 1), ki / (n - 1))
                    xyz = _mat_mul(SRGB_D50, tuple(srgb_decode(v) for v in rgb))
                    clut += b"".join(struct.pack(">H", min(65535, round(v * 32768))) for v in xyz)
    mft2 = (
        b"mft2" + b"\x00" * 4 + bytes([4, 3, n, 0])
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + struct.pack(">HH", 2, 2)
        + struct.pack(">HH", 0, 65535) * 4
        + bytes(clut)
        + struct.pack(">HH", 0, 65535) * 3
    )  # fmt: skip
    return _icc(
        b"prtr", b"CMYK", b"XYZ ",
        [(b"desc", _desc_tag("imgpipe test press CMYK")), (b"cprt", _text_tag("No copyright, test data")),
         (b"wtpt", _xyz_tag(D50)), (b"A2B0", mft2)],
    )  # fmt: skip


# A wide-gamut RGB (Adobe RGB (1998) primaries adapted to D50, gamma 2.2) for the RGB-profile test.
WIDE_D50 = ((0.6097559, 0.2052401, 0.1492240), (0.3111242, 0.6256560, 0.0632197), (0.0194811, 0.0608902, 0.7448387))
WIDE_GAMMA = 563 / 256  # u8Fixed8 2.19921875, as Adobe RGB stores it


@lru_cache(maxsize=1)
def wide_rgb_profile() -> bytes:
    curve = b"curv" + b"\x00" * 4 + struct.pack(">IH", 1, 563)
    return _icc(
        b"mntr", b"RGB ", b"XYZ ",
        [(b"desc", _desc_tag("imgpipe test wide RGB")), (b"cprt", _text_tag("No copyright, test data")),
         (b"wtpt", _xyz_tag(D50)),
         (b"rXYZ", _xyz_tag([WIDE_D50[i][0] for i in range(3)])),
         (b"gXYZ", _xyz_tag([WIDE_D50[i][1] for i in range(3)])),
         (b"bXYZ", _xyz_tag([WIDE_D50[i][2] for i in range(3)])),
         (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)],
    )  # fmt: skip


def wide_rgb_to_srgb(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Reference conversion, by the book: decode gamma, to XYZ (D50), to linear sRGB, encode."""
    linear = tuple((v / 255) ** WIDE_GAMMA for v in rgb)
    xyz = _mat_mul(WIDE_D50, linear)
    srgb_linear = _mat_mul(_inverse3(SRGB_D50), xyz)
    r, g, b = (round(255 * srgb_encode(v)) for v in srgb_linear)
    return r, g, b


@lru_cache(maxsize=1)
def grey_linear_profile() -> bytes:
    """A greyscale profile with a linear (gamma 1.0) tone curve."""
    curve = b"curv" + b"\x00" * 4 + struct.pack(">IH", 1, 256)
    return _icc(
        b"mntr", b"GRAY", b"XYZ ",
        [(b"desc", _desc_tag("imgpipe test linear grey")), (b"cprt", _text_tag("No copyright, test data")),
         (b"wtpt", _xyz_tag(D50)), (b"kTRC", curve)],
    )  # fmt: skip


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# ---- CMYK and YCCK JPEG ----------------------------------------------------------------------------
CMYK_PATCHES = (  # multiples of 51: exactly on the profile's CLUT nodes
    (255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255),
    (0, 0, 0, 0), (102, 51, 0, 0), (0, 153, 204, 0), (51, 51, 51, 102),
)  # fmt: skip


def cmyk_patches(size: int = 32) -> Image.Image:
    """A strip of flat CMYK patches, one per CMYK_PATCHES entry."""
    im = Image.new("CMYK", (size * len(CMYK_PATCHES), size))
    for i, patch in enumerate(CMYK_PATCHES):
        im.paste(patch, (i * size, 0, (i + 1) * size, size))
    return im


def cmyk_jpeg(profile: bytes | None = None) -> bytes:
    return save(cmyk_patches(), "JPEG", quality=100, subsampling=0, **({"icc_profile": profile} if profile else {}))


def ycck_jpeg(profile: bytes | None = None) -> bytes:
    """A YCCK JPEG (Adobe APP14 transform=2): Pillow cannot write one, so we encode the YCC+K
    planes as a 4-channel JPEG and flip the transform flag in the Adobe marker."""
    cmyk = cmyk_patches()
    ycck = Image.new("CMYK", cmyk.size)
    out = []
    for c, m, y, k in cmyk.get_flattened_data():
        # libjpeg decodes YCCK to Adobe-inverted CMYK with C = 255 - R (R, G, B from the YCC
        # planes); Pillow inverts again.  So the planes are YCbCr of (C, M, Y), and K inverted.
        r, g, b = c, m, y
        yy = 0.299 * r + 0.587 * g + 0.114 * b
        cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
        cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
        stored = (round(yy), round(cb), round(cr), 255 - k)
        # Pillow writes CMYK inverted ("CMYK;I"): hand it 255 - stored so the file holds ``stored``.
        out.append(tuple(255 - max(0, min(255, v)) for v in stored))
    ycck.putdata(out)
    data = bytearray(save(ycck, "JPEG", quality=100, subsampling=0, **({"icc_profile": profile} if profile else {})))
    at = data.find(b"\xff\xee")
    while at >= 0 and data[at + 4 : at + 9] != b"Adobe":
        at = data.find(b"\xff\xee", at + 2)
    assert at >= 0, "Pillow wrote no Adobe marker"
    data[at + 15] = 2  # APP14: FFEE len(2) 'Adobe' version(2) flags0(2) flags1(2) transform(1)
    return bytes(data)


# ---- metadata-laden files (privacy tests) -------------------------------------------------------
SECRETS = {
    "gps_lat": (51.0, 30.0, 26.13),
    "gps_lon": (0.0, 7.0, 39.97),
    "maker": b"SECRET-MAKERNOTE-0xDEADBEEF",
    "comment": "SECRET-EXIF-USERCOMMENT",
    "artist": "SECRET-ARTIST Jane Doe",
    "serial": "SECRET-SERIAL-123456",
    "jpeg_comment": b"SECRET-JPEG-COMMENT <script>alert(1)</script>",
    "xmp": b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.4355N" '
    b'exif:GPSLongitude="0,7.6662W"><dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">SECRET-XMP-CREATOR'
    b"</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>",
    "iptc": b"SECRET-IPTC-BYLINE",
    "png_text": "SECRET-PNG-TEXT",
    "copyright": "(c) 2026 Example Photo Agency",
}
SECRET_MARKERS = (b"SECRET-", b"Exif\x00\x00", b"http://ns.adobe.com", b"Photoshop 3.0", b"<script")


def private_exif(
    orientation: int | None = None,
    copyright_: str | None = SECRETS["copyright"],
    make="ExampleCam",
    model="EC-1 Mark II",
) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x013B] = SECRETS["artist"]
    exif[0x0132] = "2026:05:04 10:11:12"
    if copyright_:
        exif[0x8298] = copyright_
    if orientation:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2026:05:04 09:08:07"
    sub[0x9011] = "+02:00"
    sub[0x927C] = SECRETS["maker"]
    sub[0x9286] = SECRETS["comment"]
    sub[0xA431] = SECRETS["serial"]
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = SECRETS["gps_lat"]
    gps[3] = "W"
    gps[4] = SECRETS["gps_lon"]
    return exif.tobytes()


def _app13_iptc(byline: bytes) -> bytes:
    iptc = b"\x1c\x02\x50" + struct.pack(">H", len(byline)) + byline  # 2:80 By-line
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    if len(resource) % 2:
        resource += b"\x00"
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def private_jpeg(width: int = 320, height: int = 240, keep: str | None = SECRETS["copyright"]) -> bytes:
    """A JPEG carrying EXIF (GPS, maker note, serial…), XMP, IPTC, a COM comment and an ICC profile."""
    data = save(
        photo(width, height), "JPEG", quality=90, exif=private_exif(copyright_=keep),
        icc_profile=srgb_profile(), comment=SECRETS["jpeg_comment"], xmp=SECRETS["xmp"],
    )  # fmt: skip
    return data[:2] + _app13_iptc(SECRETS["iptc"]) + data[2:]  # IPTC right after SOI


def private_png() -> bytes:
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", SECRETS["png_text"])
    text.add_itxt("XML:com.adobe.xmp", SECRETS["xmp"].decode(), zip=True)
    return save(photo(), "PNG", pnginfo=text, exif=private_exif())


def private_webp() -> bytes:
    return save(photo(), "WEBP", quality=90, exif=private_exif(), xmp=SECRETS["xmp"], icc_profile=srgb_profile())


def private_heic() -> bytes:
    _heif()
    return save(photo(), "HEIF", quality=90, exif=private_exif(), xmp=SECRETS["xmp"])


# ---- animations ----------------------------------------------------------------------------------
FRAME_COLOURS = ((220, 40, 40), (40, 200, 40), (40, 40, 220))
FRAME_DURATIONS = (100, 200, 300)


def animation(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    frames = [Image.new("RGB", size, c) for c in FRAME_COLOURS]
    options = {"save_all": True, "append_images": frames[1:], "duration": list(FRAME_DURATIONS), "loop": 0}
    if fmt == "WEBP":
        options["lossless"] = True
    if fmt == "AVIF":
        options["quality"] = 90
    return save(frames[0], fmt, **options)


def gif_frames(count: int, size: int = 1) -> bytes:
    """A GIF with ``count`` 1x1 frames, written by hand (tiny: ~15 bytes a frame)."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", size, size, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for i in range(count):
        out += b"\x21\xf9\x04\x00" + struct.pack("<H", 2) + b"\x00\x00"  # 20 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        out += b"\x02\x02" + (b"\x44\x01" if i % 2 == 0 else b"\x4c\x01") + b"\x00"  # clear, index, end
    out += b"\x3b"
    return bytes(out)


# ---- crafted hostile files ----------------------------------------------------------------------
def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but whose IDAT holds almost nothing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def png_pixel_bomb(width: int = 8000, height: int = 8000) -> bytes:
    """A real decompression bomb: a valid 1-bit PNG of 64 MP in a few kilobytes."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = compressor.compress(row * height) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@lru_cache(maxsize=4)
def _bomb_stream(inflated: int) -> bytes:
    compressor = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    out = b"".join(compressor.compress(block) for _ in range(inflated >> 20))
    return out + compressor.flush()


def png_text_bomb(kind: bytes = b"iTXt", inflated: int = 64 << 20) -> bytes:
    """A 16x16 PNG with one compressed metadata chunk that inflates to ``inflated`` bytes."""
    stream = _bomb_stream(inflated)
    if kind == b"iTXt":
        body = b"Comment\x00\x01\x00en\x00\x00" + stream
    elif kind == b"zTXt":
        body = b"Comment\x00\x00" + stream
    else:  # iCCP
        body = b"ICC Profile\x00\x00" + stream
    return png_bytes(gradient_pixels(16, 16, 3), 2, before_idat=(png_chunk(kind, body),))


def apng_claiming_frames(frames: int) -> bytes:
    """A still PNG whose acTL chunk claims ``frames`` animation frames."""
    actl = png_chunk(b"acTL", struct.pack(">II", frames, 0))
    return png_bytes(gradient_pixels(8, 8, 3), 2, before_idat=(actl,))


def jpeg_with_size(width: int, height: int) -> bytes:
    """A small real JPEG whose SOF marker is rewritten to claim ``width`` x ``height``."""
    data = bytearray(save(Image.new("RGB", (16, 16), (90, 90, 90)), "JPEG", quality=50))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_with_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is ``width`` x ``height`` around one 1x1 frame."""
    data = bytearray(gif_frames(1))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def webp_with_canvas(width: int, height: int) -> bytes:
    """An animated WebP whose canvas claims ``width`` x ``height`` around a single 1x1 frame
    (libwebp accepts frames smaller than the canvas; the canvas is what a decoder allocates)."""
    tiny = save(Image.new("RGB", (1, 1), (10, 20, 30)), "WEBP", lossless=True)
    frame_data = tiny[12:]  # the VP8L chunk
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x02\x00\x00\x00"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    anim = b"ANIM" + struct.pack("<I", 6) + b"\x00\x00\x00\x00" + b"\x00\x00"
    anmf_body = b"\x00" * 6 + (0).to_bytes(3, "little") * 2 + (100).to_bytes(3, "little") + b"\x00" + frame_data
    anmf = b"ANMF" + struct.pack("<I", len(anmf_body)) + anmf_body + (b"\x00" if len(anmf_body) % 2 else b"")
    body = b"WEBP" + vp8x + anim + anmf
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tiff_with_size(width: int, height: int, tile: tuple[int, int] | None = None) -> bytes:
    """A minimal greyscale TIFF (one strip, or one tile) with the given header dimensions."""
    pixel_data = b"\x80" * 64
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (277, 3, 1)]
    if tile:
        entries += [(322, 4, tile[0]), (323, 4, tile[1]), (324, 4, 0), (325, 4, len(pixel_data))]
    else:
        entries += [(273, 4, 0), (278, 4, height), (279, 4, len(pixel_data))]
    entries.sort()
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = ifd_offset + ifd_size
    out = b"II*\x00" + struct.pack("<I", ifd_offset) + struct.pack("<H", len(entries))
    for tag, typ, declared in entries:
        value = data_offset if tag in (273, 324) else declared  # strip/tile offsets point at the pixels
        packed = struct.pack("<H", value) + b"\x00\x00" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, 1) + packed
    return out + struct.pack("<I", 0) + pixel_data


def bmp_with_size(width: int, height: int) -> bytes:
    """A 24-bit BMP header claiming ``width`` x ``height`` followed by a few bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    body = info + b"\x00" * 48
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, 54) + body


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def heic_bytes(im: Image.Image | None = None, **options) -> bytes:
    _heif()
    return save(im or photo(64, 48), "HEIF", quality=options.pop("quality", 80), **options)


# ---- refused files ---------------------------------------------------------------------------------
_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n'
)
_MVG = (
    b"push graphic-context\nviewbox 0 0 640 480\n"
    b"fill 'url(https://example.com/image.jpg\"|ls \"-la)'\npop graphic-context\n"
)
_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"
_HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><img src=x onerror=alert(1)></body></html>\n"
_TEXT = b"This is a plain text file, not a picture.\nIt has two lines.\n"
_PSD = b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 10, 10, 8, 3) + b"\x00" * 64
_MP4 = struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2" + struct.pack(">I", 8) + b"free"


def _random_bytes(n: int, seed: int = 1234) -> bytes:
    out, x = bytearray(), seed
    for _ in range(n):
        x = (1103515245 * x + 12345) & 0x7FFFFFFF
        out.append((x >> 16) & 0xFF)
    return bytes(out)


def _pillow_only(fmt: str, **options) -> bytes:
    """A real file in a format Pillow could decode but that we refuse (ICO, JPEG 2000, PPM, TGA…)."""
    return save(photo(32, 32), fmt, **options)


def refused_files() -> list[tuple[str, bytes, str]]:
    """Every hostile or unsupported input, with the public error code it must produce.

    Small (< 200 KB each) and quick: meant to be pushed through the whole local state machine.
    """
    return list(_refused_files())


@lru_cache(maxsize=1)
def _refused_files() -> tuple[tuple[str, bytes, str], ...]:
    jpeg = save(photo(160, 120), "JPEG", quality=85)
    png = save(photo(160, 120), "PNG")
    files = [
        # not images at all
        ("empty.jpg", b"", "NOT_AN_IMAGE"),
        ("text.jpg", _TEXT, "NOT_AN_IMAGE"),
        ("page.html", _HTML, "NOT_AN_IMAGE"),
        ("random.bin", _random_bytes(4096), "NOT_AN_IMAGE"),
        ("archive.zip", b"PK\x03\x04" + _random_bytes(200), "NOT_AN_IMAGE"),
        ("targa-no-footer.tga", _pillow_only("TGA")[:-26], "NOT_AN_IMAGE"),  # TGA 1.0 has no signature
        ("xbm.xbm", b"#define x_width 8\n#define x_height 1\nstatic char x_bits[] = { 0xff };\n", "NOT_AN_IMAGE"),
        # images, or image-like, in formats we do not accept (never handed to a decoder)
        ("vector.svg", _SVG, "UNSUPPORTED_FORMAT"),
        ("bom.svg", b"\xef\xbb\xbf  \n" + _SVG, "UNSUPPORTED_FORMAT"),
        ("tragick.mvg", _MVG, "UNSUPPORTED_FORMAT"),
        ("document.pdf", _PDF, "UNSUPPORTED_FORMAT"),
        ("drawing.eps", _EPS, "UNSUPPORTED_FORMAT"),
        ("layers.psd", _PSD, "UNSUPPORTED_FORMAT"),
        ("icon.ico", _pillow_only("ICO"), "UNSUPPORTED_FORMAT"),
        ("targa.tga", _pillow_only("TGA"), "UNSUPPORTED_FORMAT"),
        ("jpeg2000.jp2", _pillow_only("JPEG2000"), "UNSUPPORTED_FORMAT"),
        ("netpbm.ppm", _pillow_only("PPM"), "UNSUPPORTED_FORMAT"),
        ("movie.mp4", _MP4, "UNSUPPORTED_FORMAT"),
        # allowed formats that cannot be decoded: truncated, malformed, polyglots
        ("truncated.jpg", truncated(jpeg), "CORRUPT_IMAGE"),
        ("truncated.png", truncated(png), "CORRUPT_IMAGE"),
        ("truncated.gif", truncated(save(photo(160, 120), "GIF")), "CORRUPT_IMAGE"),
        ("truncated.webp", truncated(save(photo(160, 120), "WEBP")), "CORRUPT_IMAGE"),
        ("truncated.tif", truncated(save(photo(160, 120), "TIFF")), "CORRUPT_IMAGE"),
        ("truncated.bmp", truncated(save(photo(160, 120), "BMP")), "CORRUPT_IMAGE"),
        ("truncated.avif", truncated(save(photo(64, 48), "AVIF", quality=60)), "CORRUPT_IMAGE"),
        ("truncated.heic", truncated(heic_bytes()), "CORRUPT_IMAGE"),
        ("header-only.jpg", jpeg[:200], "CORRUPT_IMAGE"),
        ("gif-js-polyglot.gif", b"GIF89a/*" + b"\x00" * 10 + b"*/=alert(document.domain)//;", "CORRUPT_IMAGE"),
        (
            "jpeg-html-polyglot.jpg",
            b"\xff\xd8\xff\xfe\x00\x30<html><script>alert(1)</script></html>   " + _HTML,
            "CORRUPT_IMAGE",
        ),
        ("zero-size.png", png_header_only(0, 10), "CORRUPT_IMAGE"),
        # over the limits, refused from the header
        ("huge-header.png", png_header_only(100_000, 100_000), "IMAGE_TOO_LARGE"),
        ("pixel-bomb.png", png_pixel_bomb(), "IMAGE_TOO_LARGE"),
        ("itxt-bomb.png", png_text_bomb(b"iTXt"), "IMAGE_TOO_LARGE"),
        ("ztxt-bomb.png", png_text_bomb(b"zTXt"), "IMAGE_TOO_LARGE"),
        ("iccp-bomb.png", png_text_bomb(b"iCCP"), "IMAGE_TOO_LARGE"),
        ("huge-header.jpg", jpeg_with_size(60_000, 60_000), "IMAGE_TOO_LARGE"),
        ("wide-header.jpg", jpeg_with_size(65_000, 100), "IMAGE_TOO_LARGE"),
        ("huge-screen.gif", gif_with_screen(65_535, 65_535), "IMAGE_TOO_LARGE"),
        ("huge-canvas.webp", webp_with_canvas(16_384, 16_384), "IMAGE_TOO_LARGE"),
        ("huge-header.tif", tiff_with_size(100_000, 100_000), "IMAGE_TOO_LARGE"),
        ("huge-tile.tif", tiff_with_size(8, 8, tile=(65_536, 65_536)), "IMAGE_TOO_LARGE"),
        ("huge-header.bmp", bmp_with_size(60_000, 60_000), "IMAGE_TOO_LARGE"),
        ("too-many-frames.gif", gif_frames(501), "IMAGE_TOO_LARGE"),
        ("too-many-frames.png", apng_claiming_frames(100_000), "IMAGE_TOO_LARGE"),
    ]
    return tuple(files)
