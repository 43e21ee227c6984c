"""The format comes from the bytes; allowed formats decode, everything else is refused
with a code that says why, and never reaches a decoder outside the allow-list."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgpipe.errors import PERMANENT_CODES, PermanentError
from imgpipe.image.render import render
from imgpipe.image.sniff import ALLOWED, MIME_TYPES, sniff
from imgpipe.image.source import open_checked
from tests import corpus
from tests.image.helpers import psnr, render_one, settings

PHOTO = corpus.photo(160, 120)


def _mpo() -> bytes:
    return corpus.save(PHOTO, "MPO", save_all=True, append_images=[corpus.photo(80, 60, seed=3)], quality=92)


# (id, bytes, sniffed format, minimum PSNR of the decoded file against the source picture: the
# thin coloured lines of corpus.photo() make 4:2:0 chroma subsampling cost a lot)
ACCEPTED = [
    ("jpeg-baseline", lambda: corpus.save(PHOTO, "JPEG", quality=92), "JPEG", 19),
    ("jpeg-progressive", lambda: corpus.save(PHOTO, "JPEG", quality=92, progressive=True), "JPEG", 19),
    ("jpeg-444", lambda: corpus.save(PHOTO, "JPEG", quality=92, subsampling=0), "JPEG", 32),
    ("jpeg-grey", lambda: corpus.save(PHOTO.convert("L"), "JPEG", quality=92), "JPEG", 10),
    ("jpeg-mpo", _mpo, "JPEG", 19),
    ("png-rgb", lambda: corpus.save(PHOTO, "PNG"), "PNG", 99),
    ("png-rgba", lambda: corpus.save(PHOTO.convert("RGBA"), "PNG"), "PNG", 99),
    ("png-palette", lambda: corpus.save(PHOTO.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), "PNG", 24),
    ("gif", lambda: corpus.save(PHOTO.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"), "GIF", 24),
    ("webp-lossy", lambda: corpus.save(PHOTO, "WEBP", quality=92), "WEBP", 19),
    ("webp-lossless", lambda: corpus.save(PHOTO, "WEBP", lossless=True), "WEBP", 99),
    ("avif", lambda: corpus.save(PHOTO, "AVIF", quality=90), "AVIF", 19),
    ("tiff-raw", lambda: corpus.save(PHOTO, "TIFF"), "TIFF", 99),
    ("tiff-lzw", lambda: corpus.save(PHOTO, "TIFF", compression="tiff_lzw"), "TIFF", 99),
    ("tiff-deflate", lambda: corpus.save(PHOTO, "TIFF", compression="tiff_adobe_deflate"), "TIFF", 99),
    ("tiff-jpeg", lambda: corpus.save(PHOTO, "TIFF", compression="jpeg", quality=92), "TIFF", 19),
    (
        "tiff-multipage",
        lambda: corpus.save(PHOTO, "TIFF", save_all=True, append_images=[corpus.photo(80, 60, 2)]),
        "TIFF",
        99,
    ),
    ("bmp-24", lambda: corpus.save(PHOTO, "BMP"), "BMP", 99),
    ("bmp-32", lambda: corpus.save(PHOTO.convert("RGBA"), "BMP"), "BMP", 99),
    ("bmp-palette", lambda: corpus.save(PHOTO.convert("P", palette=Image.Palette.ADAPTIVE), "BMP"), "BMP", 24),
    ("heic", lambda: corpus.heic_bytes(PHOTO, quality=92), "HEIF", 19),
]


@pytest.mark.parametrize(("make", "fmt", "min_psnr"), [a[1:] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_allowed_formats_render(make, fmt, min_psnr):
    data = make()

    info, _, image = render_one(data, fmt="png")

    assert info.format == fmt and info.mime == MIME_TYPES[fmt]
    assert (info.width, info.height) == PHOTO.size == image.size
    assert info.bytes == len(data)
    assert image.mode == "RGB"
    assert psnr(image, PHOTO) >= min_psnr
    # Nothing is lost on the way: the rendition is what a plain decode of the file shows.
    plain = Image.open(io.BytesIO(data))
    assert psnr(image, plain.convert("RGB")) >= 45


@pytest.mark.parametrize(
    ("name", "data", "code"), corpus.refused_files(), ids=[name for name, _, _ in corpus.refused_files()]
)
def test_refused_files_get_their_code(name, data, code):
    with pytest.raises(PermanentError) as caught:
        render(data, settings())

    assert caught.value.code == code
    message = str(caught.value)
    assert 10 < len(message) < 160 and "<_io" not in message and "Traceback" not in message


def test_refused_files_contract():
    files = corpus.refused_files()
    names = [name for name, _, _ in files]

    assert len(names) == len(set(names))
    assert all(len(data) < 200_000 for _, data, _ in files)
    assert {code for _, _, code in files} <= set(PERMANENT_CODES)
    assert {"NOT_AN_IMAGE", "UNSUPPORTED_FORMAT", "CORRUPT_IMAGE", "IMAGE_TOO_LARGE"} <= {code for _, _, code in files}


def test_no_decoder_outside_the_allow_list_ever_sees_the_bytes(monkeypatch):
    calls: list[object] = []
    real_open = Image.open

    def spy(fp, mode="r", formats=None):
        calls.append(formats)
        return real_open(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    for _, data, code in corpus.refused_files():
        calls.clear()
        with pytest.raises(PermanentError):
            render(data, settings())
        if code in ("NOT_AN_IMAGE", "UNSUPPORTED_FORMAT"):
            assert calls == []  # refused by sniffing alone
        else:
            assert all(isinstance(f, list) and len(f) == 1 and f[0] in ALLOWED for f in calls), calls
    for _, make, fmt, _ in ACCEPTED:
        calls.clear()
        render(make(), settings())
        assert calls == [[fmt]]


def test_the_declared_name_or_type_plays_no_part():
    # Same bytes, any name: the sniffed format wins (the pipeline never sees a name anyway).
    assert sniff(corpus.save(PHOTO, "PNG")) == "PNG"
    assert sniff(corpus.save(PHOTO, "GIF")) == "GIF"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "HEIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf" + b"\x00" * 40 + b"av01", "AVIF"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf" + b"\x00" * 40 + b"hvc1", "HEIF"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF"),
        (b"MM\x00*\x00\x00\x00\x08", "TIFF"),
    ],
)
def test_sniffing_container_formats(head, expected):
    assert sniff(head + b"\x00" * 64) == expected


@pytest.mark.parametrize(
    ("head", "code"),
    [
        (b"BM is a text that starts like a bitmap but is not one at all, really", "NOT_AN_IMAGE"),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x00crx isom", "UNSUPPORTED_FORMAT"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "UNSUPPORTED_FORMAT"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf", "UNSUPPORTED_FORMAT"),
        (b"\x7fELF\x02\x01\x01", "NOT_AN_IMAGE"),
    ],
    ids=["bm-text", "canon-cr3", "canon-cr2", "heif-unknown-codec", "elf"],
)
def test_sniffing_refusals(head, code):
    with pytest.raises(PermanentError) as caught:
        sniff(head + b"\x00" * 64)
    assert caught.value.code == code


def test_dng_raw_files_are_refused_though_they_are_tiff():
    data = corpus.save(PHOTO, "TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"})

    with pytest.raises(PermanentError) as caught:
        render(data, settings())
    assert caught.value.code == "UNSUPPORTED_FORMAT"


def test_open_checked_reads_the_header_only():
    source = open_checked(corpus.save(PHOTO, "PNG"), settings().limits)

    assert source.image.tile  # the decode is still pending: nothing but the header was read
    assert (source.width, source.height) == PHOTO.size


def test_interlaced_png_decodes_like_the_plain_one():
    pixels = corpus.gradient_pixels(37, 23, 3)
    plain = corpus.png_bytes(pixels, 2)
    interlaced = corpus.png_bytes(pixels, 2, interlace=True)
    assert Image.open(io.BytesIO(interlaced)).info.get("interlace") == 1

    _, _, a = render_one(plain)
    _, _, b = render_one(interlaced)

    assert a.tobytes() == b.tobytes()
