"""The lossless hand-off between the resize and watermark steps: raw pixels behind a fixed header."""

from __future__ import annotations

import re
import struct

import pytest
from PIL import Image

from imgpipe.config import PipelineSettings, Rendition, Watermark
from imgpipe.errors import PermanentError
from imgpipe.image import watermark
from imgpipe.image.encoding import encode
from imgpipe.image.exif import COPYRIGHT_KEY
from imgpipe.image.intermediate import (
    INTERMEDIATE_CONTENT_TYPE,
    INTERMEDIATE_EXTENSION,
    MAX_INTERMEDIATE_EDGE,
    decode_intermediate,
    encode_intermediate,
)
from imgpipe.image.render import render
from imgpipe.image.renditions import resize
from tests import corpus

HEADER = struct.Struct(">4sBBIIH")


def rgba_photo(width: int, height: int) -> Image.Image:
    im = corpus.photo(width, height).convert("RGBA")
    im.putalpha(Image.linear_gradient("L").resize((width, height)))
    return im


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (3, 7), (641, 479)])
def test_round_trip_is_bit_exact(mode, size):
    im = corpus.photo(*size) if mode == "RGB" else rgba_photo(*size)

    data = encode_intermediate(im)
    back = decode_intermediate(data)

    assert (back.mode, back.size) == (mode, size)
    assert back.tobytes() == im.tobytes()
    assert len(data) == HEADER.size + size[0] * size[1] * len(mode)


def test_the_header_is_the_documented_fixed_layout():
    data = encode_intermediate(rgba_photo(20, 10))

    assert HEADER.unpack_from(data) == (b"IPRW", 1, 4, 20, 10, 0)
    assert (INTERMEDIATE_CONTENT_TYPE, INTERMEDIATE_EXTENSION) == ("application/octet-stream", "raw")


def test_only_the_copyright_line_travels_with_the_pixels():
    im = corpus.photo(16, 8)
    im.info = {
        "icc_profile": b"\0" * 200,
        "exif": b"Exif\0\0secret",
        "comment": b"secret",
        COPYRIGHT_KEY: "© Zoë Ünïcode 2026",
    }

    back = decode_intermediate(encode_intermediate(im))

    assert back.info == {COPYRIGHT_KEY: "© Zoë Ünïcode 2026"}
    im.info = {"icc_profile": b"\0" * 200}
    assert decode_intermediate(encode_intermediate(im)).info == {}


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16"])
def test_only_rgb_and_rgba_are_written(mode):
    with pytest.raises(ValueError, match=f"RGB or RGBA, not {re.escape(mode)}"):
        encode_intermediate(Image.new(mode, (4, 4)))


def test_a_decoded_rgba_intermediate_can_be_drawn_on():
    # RGBA is mapped over the bytes without a copy (read-only); writing must not touch the bytes.
    data = encode_intermediate(rgba_photo(300, 200))
    before = bytes(data)
    image = decode_intermediate(data)

    image.paste((255, 0, 0, 255), (0, 0, 10, 10))
    marked = watermark.apply(image, Watermark(min_edge=1))

    assert image.getpixel((0, 0)) == (255, 0, 0, 255) and marked is not image
    assert data == before


def _valid() -> bytes:
    im = corpus.photo(8, 6)
    im.info[COPYRIGHT_KEY] = "(c) someone"
    return encode_intermediate(im)


def _with_header(data: bytes, **fields) -> bytes:
    values = dict(zip(("magic", "version", "bands", "width", "height", "text"), HEADER.unpack_from(data), strict=True))
    values.update(fields)
    return HEADER.pack(*values.values()) + data[HEADER.size :]


BAD = {
    "empty": lambda d: b"",
    "header only": lambda d: d[: HEADER.size],
    "truncated by one byte": lambda d: d[:-1],
    "one byte too many": lambda d: d + b"\0",
    "a PNG": lambda d: corpus.save(corpus.photo(8, 6), "PNG"),
    "wrong magic": lambda d: _with_header(d, magic=b"IPRX"),
    "unknown version": lambda d: _with_header(d, version=2),
    "grey (1 band)": lambda d: _with_header(d, bands=1),
    "two bands": lambda d: _with_header(d, bands=2),
    "zero width": lambda d: _with_header(d, width=0),
    "width doubled": lambda d: _with_header(d, width=16),
    "over the edge limit": lambda d: _with_header(d, width=MAX_INTERMEDIATE_EDGE + 1, height=1),
    "RGBA claimed for RGB bytes": lambda d: _with_header(d, bands=4),
    "copyright longer than the file": lambda d: _with_header(d, text=60000),
    "copyright length off by one": lambda d: _with_header(d, text=len("(c) someone") + 1),
    "copyright not UTF-8": lambda d: (
        d[: HEADER.size] + b"\xff" * len("(c) someone") + d[HEADER.size + len("(c) someone") :]
    ),
}


@pytest.mark.parametrize("damage", BAD.values(), ids=BAD.keys())
def test_a_damaged_intermediate_is_corrupt_image(damage):
    with pytest.raises(PermanentError) as caught:
        decode_intermediate(damage(_valid()))

    assert caught.value.code == "CORRUPT_IMAGE"


def test_a_header_claiming_a_huge_image_is_refused_before_any_allocation():
    data = HEADER.pack(b"IPRW", 1, 4, MAX_INTERMEDIATE_EDGE, MAX_INTERMEDIATE_EDGE, 0)

    with pytest.raises(PermanentError):
        decode_intermediate(data)


# ---- the two-step pipeline is byte-identical to render() ---------------------------------------
PIPELINE_CASES = {
    "jpeg photo, default renditions": (lambda: corpus.save(corpus.photo(2400, 1800), "JPEG"), PipelineSettings()),
    "rotated jpeg": (lambda: corpus.oriented(6, "JPEG", width=900, height=600), PipelineSettings()),
    "transparent png, every format": (
        lambda: corpus.save(rgba_photo(700, 500), "PNG"),
        PipelineSettings(
            renditions=(
                Rendition("a", 600, "auto"),
                Rendition("w", 400, "webp"),
                Rendition("p", 300, "png"),
                Rendition("j", 200, "jpeg"),
            )
        ),
    ),
    "kept copyright, tiled watermark": (
        lambda: corpus.private_jpeg(width=900, height=600),
        PipelineSettings(keep_copyright=True, watermark=Watermark(tile=True, min_edge=16)),
    ),
    "no watermark, no resize": (
        lambda: corpus.save(corpus.photo(300, 200), "PNG"),
        PipelineSettings(watermark=Watermark(text="")),
    ),
}


@pytest.mark.parametrize(("make", "settings"), PIPELINE_CASES.values(), ids=PIPELINE_CASES.keys())
def test_resize_then_intermediate_then_watermark_is_byte_identical_to_render(make, settings):
    data = make()

    _, resized = resize(data, settings)
    staged = []
    for rendition, image in resized:
        handed_over = decode_intermediate(encode_intermediate(image))
        staged.append(encode(watermark.apply(handed_over, settings.watermark), rendition, settings))
    _, rendered = render(data, settings)

    assert [(e.name, e.format, e.width, e.height) for e in staged] == [
        (e.name, e.format, e.width, e.height) for e in rendered
    ]
    assert [e.data for e in staged] == [e.data for e in rendered]
