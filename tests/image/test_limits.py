"""Byte, pixel, edge and frame limits are checked from the header before decoding;
bombs are refused without allocating the image."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace

import psutil
import pytest
from PIL import AvifImagePlugin, Image, ImageFile, WebPImagePlugin
from pillow_heif import as_plugin as heif_plugin

from imgpipe.config import Limits
from imgpipe.errors import PermanentError
from imgpipe.image import probe
from imgpipe.image import source as image_source
from imgpipe.image.render import render
from tests import corpus
from tests.image.helpers import settings

SMALL = corpus.photo(64, 48)

HEADER_BOMBS = {
    "png-100k-square": lambda: corpus.png_header_only(100_000, 100_000),
    "png-1bit-64mp": corpus.png_pixel_bomb,
    "jpeg-60k-square": lambda: corpus.jpeg_with_size(60_000, 60_000),
    "jpeg-just-over": lambda: corpus.jpeg_with_size(8000, 6251),  # 50.008 MP
    "gif-screen": lambda: corpus.gif_with_screen(65_535, 65_535),
    "webp-canvas": lambda: corpus.webp_with_canvas(16_384, 16_384),
    "tiff-100k-square": lambda: corpus.tiff_with_size(100_000, 100_000),
    "tiff-huge-tile": lambda: corpus.tiff_with_size(8, 8, tile=(65_536, 65_536)),
    "bmp-60k-square": lambda: corpus.bmp_with_size(60_000, 60_000),
}


def refuse(data: bytes, **limits) -> PermanentError:
    with pytest.raises(PermanentError) as caught:
        render(data, settings(limits=replace(Limits(), **limits)))
    return caught.value


@pytest.fixture
def decoding_forbidden(monkeypatch):
    """Any pixel decode or any image allocation over 1 MP fails the test."""

    def no_load(self, *args, **kwargs):
        raise AssertionError("a decoder ran")

    classes = (
        ImageFile.ImageFile,
        WebPImagePlugin.WebPImageFile,
        AvifImagePlugin.AvifImageFile,
        heif_plugin._LibHeifImageFile,
    )
    for cls in classes:
        monkeypatch.setattr(cls, "load", no_load)
    real_new = Image.core.new

    def guarded_new(mode, size, *args):
        assert size[0] * size[1] <= 1_000_000, f"allocated {size}"
        return real_new(mode, size, *args)

    monkeypatch.setattr(Image.core, "new", guarded_new)


def refuse_traced(data: bytes):
    """The refusal and the peak of Python allocations made while refusing."""
    tracemalloc.start()
    try:
        error = refuse(data)
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("make", HEADER_BOMBS.values(), ids=HEADER_BOMBS.keys())
def test_header_bombs_are_refused_before_any_decode_or_allocation(make, decoding_forbidden):
    data = make()
    rss_before = psutil.Process().memory_info().rss
    error, peak = refuse_traced(data)

    assert error.code == "IMAGE_TOO_LARGE"
    assert peak < 4 << 20  # Python-side allocations during the refusal
    assert psutil.Process().memory_info().rss - rss_before < 64 << 20


@pytest.mark.parametrize("kind", [b"iTXt", b"zTXt", b"iCCP"])
def test_compressed_metadata_bombs_are_refused_before_decoding(kind, decoding_forbidden):
    data = corpus.png_text_bomb(kind)  # 64 MB of metadata in ~65 KB
    error, peak = refuse_traced(data)

    assert error.code == "IMAGE_TOO_LARGE"
    assert peak < 4 << 20  # inflating stopped at the cap, not at 64 MB


def test_the_guard_itself_notices_a_decode(decoding_forbidden):
    for data in (corpus.save(SMALL, "PNG"), corpus.save(SMALL, "AVIF"), corpus.heic_bytes(SMALL)):
        with pytest.raises(PermanentError) as caught:
            render(data, settings())
        assert caught.value.code == "CORRUPT_IMAGE"  # the guard's AssertionError, as a decode failure


def test_metadata_under_the_caps_is_fine():
    data = corpus.png_text_bomb(b"zTXt", inflated=512 << 10)  # 512 KB of text: large but legitimate

    info, _ = render(data, settings())

    assert (info.width, info.height) == (16, 16)


def test_the_byte_limit_is_checked_before_sniffing(monkeypatch):
    monkeypatch.setattr(image_source, "sniff", lambda data: pytest.fail("sniffed an over-size file"))
    data = corpus.save(SMALL, "PNG")

    assert refuse(data, max_bytes=len(data) - 1).code == "IMAGE_TOO_LARGE"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP", "HEIF"])
def test_the_pixel_limit_applies_to_every_format(fmt, decoding_forbidden):
    data = corpus.heic_bytes(SMALL) if fmt == "HEIF" else corpus.save(SMALL, fmt)

    error = refuse(data, max_pixels=64 * 48 - 1)

    assert error.code == "IMAGE_TOO_LARGE"
    assert "64x48" in str(error)


def test_an_image_at_the_pixel_limit_is_accepted():
    info, _ = render(corpus.save(SMALL, "PNG"), settings(limits=Limits(max_pixels=64 * 48)))

    assert info.width * info.height == 64 * 48


def test_the_edge_limit_applies_to_long_thin_images():
    data = corpus.save(Image.new("RGB", (400, 2), (1, 2, 3)), "PNG")

    error = refuse(data, max_edge=399)

    assert error.code == "IMAGE_TOO_LARGE" and "400x2" in str(error)


def test_default_limits():
    limits = Limits()

    assert limits.max_pixels == 50_000_000
    assert limits.max_bytes == 40 * 1024 * 1024
    assert limits.max_frames == 500
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncated files are refused, never padded


@pytest.mark.parametrize(
    "make",
    [
        lambda: corpus.gif_frames(6),
        lambda: corpus.animation("WEBP") + b"",  # 3 frames
        lambda: corpus.animation("PNG"),
        lambda: corpus.animation("AVIF"),
        lambda: corpus.save(SMALL, "TIFF", save_all=True, append_images=[SMALL, SMALL]),
    ],
    ids=["gif", "webp", "apng", "avif", "tiff-pages"],
)
def test_the_frame_limit_applies_to_every_multi_frame_format(make, decoding_forbidden):
    assert refuse(make(), max_frames=2).code == "IMAGE_TOO_LARGE"


def test_frame_counting_stops_at_the_limit():
    # 100 000 frames: the scan gives up at the first frame over the limit.
    error = refuse(corpus.gif_frames(100_000), max_frames=500)

    assert error.code == "IMAGE_TOO_LARGE" and "501 frames" in str(error)


def test_a_png_made_of_millions_of_tiny_chunks_is_refused():
    chunk = corpus.png_chunk(b"prVt", b"")
    data = corpus.png_bytes(corpus.gradient_pixels(4, 4, 3), 2, before_idat=(chunk * (probe.MAX_PNG_CHUNKS + 1),))

    assert refuse(data).code == "CORRUPT_IMAGE"


def test_a_jpeg_with_absurdly_many_scans_is_refused():
    jpeg = corpus.save(SMALL, "JPEG")
    padding = b"\xff\xfe" + (2 + 2 * 300).to_bytes(2, "big") + b"\xff\xda" * 300  # 300 scan markers
    data = jpeg[:2] + padding + jpeg[2:]

    assert refuse(data).code == "CORRUPT_IMAGE"


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "AVIF", "TIFF", "BMP", "HEIF"])
def test_truncated_files_are_refused(fmt, keep):
    picture = corpus.photo(160, 120)
    data = corpus.heic_bytes(picture) if fmt == "HEIF" else corpus.save(picture, fmt)

    assert refuse(corpus.truncated(data, keep)).code == "CORRUPT_IMAGE"
