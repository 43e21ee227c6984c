"""Configurable renditions; downscaling quality kept (no aliasing)."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw, ImageStat

from imgpipe.config import PipelineSettings, Rendition
from imgpipe.image import allocator, cascade
from imgpipe.image.decoding import decode, draft_request
from imgpipe.image.encoding import encode
from imgpipe.image.render import render
from imgpipe.image.sniff import sniff
from imgpipe.image.source import open_checked
from tests import corpus
from tests.image.helpers import NO_WATERMARK, psnr, render_one, settings

ZONE_W, ZONE_H = 1200, 900


def test_default_renditions_fit_the_long_edge():
    data = corpus.save(corpus.photo(2000, 1500), "JPEG")

    _, encoded = render(data, PipelineSettings(watermark=NO_WATERMARK))

    assert [(e.name, e.width, e.height, e.format) for e in encoded] == [
        ("large", 1600, 1200, "jpeg"),
        ("medium", 800, 600, "jpeg"),
        ("small", 320, 240, "jpeg"),
    ]
    for e in encoded:
        assert Image.open(io.BytesIO(e.data)).size == (e.width, e.height)


def test_renditions_never_upscale():
    _, encoded = render(corpus.save(corpus.photo(640, 480), "PNG"), PipelineSettings(watermark=NO_WATERMARK))

    assert [(e.width, e.height) for e in encoded] == [(640, 480), (640, 480), (320, 240)]


def test_portrait_and_extreme_aspect_ratios():
    tall = render_one(corpus.save(corpus.photo(300, 1200), "PNG"), edge=400)[1]
    thin = render_one(corpus.save(Image.new("RGB", (4000, 3), "red"), "PNG"), edge=1600)[1]
    tiny = render_one(corpus.save(Image.new("RGB", (1, 1), "red"), "PNG"), edge=1600)[1]

    assert (tall.width, tall.height) == (100, 400)
    assert (thin.width, thin.height) == (1600, 1)
    assert (tiny.width, tiny.height) == (1, 1)


@pytest.mark.parametrize(
    ("fmt", "sniffed", "content_type", "extension"),
    [
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("webp", "WEBP", "image/webp", "webp"),
        ("avif", "AVIF", "image/avif", "avif"),
        ("png", "PNG", "image/png", "png"),
    ],
)
def test_each_output_format_is_what_it_says(fmt, sniffed, content_type, extension):
    _, encoded, image = render_one(corpus.save(corpus.photo(200, 150), "PNG"), fmt=fmt, edge=100)

    assert sniff(encoded.data) == sniffed
    assert (encoded.format, encoded.content_type, encoded.extension) == (fmt, content_type, extension)
    assert image.size == (100, 75)


def test_auto_keeps_transparency_in_an_alpha_capable_format_and_uses_jpeg_otherwise():
    transparent = corpus.photo(64, 48).convert("RGBA")
    transparent.putalpha(Image.linear_gradient("L").resize((64, 48)))

    _, with_alpha, image = render_one(corpus.save(transparent, "PNG"), fmt="auto")
    _, opaque, _ = render_one(corpus.save(corpus.photo(64, 48), "PNG"), fmt="auto")

    assert with_alpha.format == "webp" and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] < 20
    assert opaque.format == "jpeg"


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_quality_setting_reaches_the_encoder(fmt):
    data = corpus.save(corpus.photo(320, 240), "PNG")

    low = render(data, settings(Rendition("out", 320, fmt, 20)))[1][0]
    high = render(data, settings(Rendition("out", 320, fmt, 95)))[1][0]

    assert len(low.data) < len(high.data)


def test_several_renditions_keep_their_configured_order_names_and_formats():
    renditions = (Rendition("hero", 300, "webp", 80), Rendition("thumb", 64, "png"), Rendition("mid", 150, "avif", 60))

    _, encoded = render(corpus.save(corpus.photo(400, 300), "JPEG"), settings(*renditions))

    assert [(e.name, e.format, e.width) for e in encoded] == [
        ("hero", "webp", 300),
        ("thumb", "png", 64),
        ("mid", "avif", 150),
    ]


# ---- downscaling quality: zone plate against a full-decode LANCZOS reference --------------------
def aliasing(image: Image.Image) -> float:
    """Contrast left in the zone plate's outer region, where every ring is finer than the
    rendition's Nyquist limit: a correct downscale leaves it almost flat grey, an aliasing one
    fills it with moiré rings (NEAREST ~90, BOX ~27 at 1/3 scale, LANCZOS ~12)."""
    w, h = image.size
    scale = w / ZONE_W
    k = math.pi * 0.45 / math.hypot(ZONE_W / 2, ZONE_H / 2)
    radius = 1.15 * (0.5 * scale * math.pi / k) * scale  # in rendition pixels
    mask = Image.new("L", (w, h), 255)
    ImageDraw.Draw(mask).ellipse((w / 2 - radius, h / 2 - radius, w / 2 + radius, h / 2 + radius), fill=0)
    return ImageStat.Stat(image.convert("L"), mask).stddev[0]


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def test_the_aliasing_measure_tells_good_from_bad_resampling():
    plate = corpus.zone_plate_cached(ZONE_W, ZONE_H)
    good = aliasing(plate.resize((400, 300), Image.Resampling.LANCZOS))

    assert aliasing(plate.resize((400, 300), Image.Resampling.NEAREST)) > 3 * good
    assert aliasing(plate.reduce(3)) > 1.5 * good  # box filter


def test_lossless_sources_are_resized_exactly_like_the_reference():
    data = corpus.save(corpus.zone_plate_cached(ZONE_W, ZONE_H), "PNG")

    _, _, image = render_one(data, edge=400)

    assert psnr(image, reference(data, image.size)) >= 45


@pytest.mark.parametrize("edge", [150, 200, 300, 400, 600, 1000])
def test_jpeg_scaled_decoding_does_not_alias(edge):
    data = corpus.save(corpus.zone_plate_cached(ZONE_W, ZONE_H), "JPEG", quality=95)

    _, _, image = render_one(data, edge=edge)
    expected = reference(data, image.size)

    assert aliasing(image) <= 1.1 * aliasing(expected) + 0.5
    assert psnr(image, expected) >= 30


def test_jpeg_drafts_go_no_lower_than_half_size_and_leave_lanczos_some_work():
    assert draft_request(4000, 3000, 1600) == (4000, 3000)  # 1/2 would leave LANCZOS 1.25x: full decode
    assert draft_request(6000, 4000, 1600) == (4000, 2668)  # 1/2 would leave 1.875x: full decode
    assert draft_request(8000, 6000, 1600) == (4000, 3000)  # decoded at 1/2, LANCZOS 2.5x
    w, h = draft_request(8000, 6000, 320)
    assert 8000 // w < 4 and 6000 // h < 4  # never 1/4 or 1/8


@pytest.mark.parametrize(
    ("source", "edge", "decoded"),
    [((1200, 900), 480, (1200, 900)), ((1200, 900), 240, (600, 450)), ((1200, 900), 100, (600, 450))],
)
def test_the_jpeg_draft_is_the_scale_the_rule_says(source, edge, decoded):
    data = corpus.save(corpus.photo(*source), "JPEG")

    frame = decode(open_checked(data, settings().limits), edge, settings().limits).image

    assert frame.size == decoded


@pytest.mark.parametrize("edge", [480, 450, 400, 300, 240, 200, 150])
def test_no_rendition_of_a_jpeg_zone_plate_strays_from_a_full_decode_lanczos_reference(edge):
    # Stricter than the aliasing test above: the rendition must *match* the full-decode reference,
    # not merely alias no more than it.  A 1/2-scale draft followed by a 1.25x LANCZOS (the previous
    # rule, edge 480) fails this at 25 dB with a stop band 20 % busier than the reference's; with the
    # 2.5x gap the draft only starts at edge 240, where it stays above 45 dB.
    data = corpus.save(corpus.zone_plate_cached(ZONE_W, ZONE_H), "JPEG", quality=95)

    _, _, image = render_one(data, edge=edge)
    expected = reference(data, image.size)

    assert psnr(image, expected) >= 45
    assert aliasing(image) <= 1.05 * aliasing(expected) + 0.3


def test_the_previous_draft_rule_did_alias():
    """Why DRAFT_GAP is 2.5: the 1/2 draft with only 1.25x left for LANCZOS, measured as above."""
    data = corpus.save(corpus.zone_plate_cached(ZONE_W, ZONE_H), "JPEG", quality=95)
    draft = Image.open(io.BytesIO(data))
    draft.draft("RGB", (600, 450))

    image = draft.convert("RGB").resize((480, 360), Image.Resampling.LANCZOS)
    expected = reference(data, image.size)

    assert draft.size == (600, 450)
    assert psnr(image, expected) < 30 and aliasing(image) > 1.15 * aliasing(expected)


# ---- cascade: smaller renditions come from larger ones ------------------------------------------
def test_renditions_are_cascaded_from_the_smallest_image_with_room_to_spare(monkeypatch):
    calls = []
    real = cascade.lanczos
    monkeypatch.setattr(cascade, "lanczos", lambda im, size: calls.append((im.size, size)) or real(im, size))
    renditions = (
        Rendition("s", 320),
        Rendition("l", 1600),
        Rendition("m", 800),
        Rendition("xl", 1800),
        Rendition("m2", 700),
    )

    _, encoded = render(corpus.save(corpus.photo(2000, 1500), "PNG"), settings(*renditions))

    assert [(e.name, e.width) for e in encoded] == [("s", 320), ("l", 1600), ("m", 800), ("xl", 1800), ("m2", 700)]
    assert calls == [
        ((2000, 1500), (1800, 1350)),  # largest first, from the frame
        ((2000, 1500), (1600, 1200)),  # 1800 is not 2x 1600: from the frame again
        ((1600, 1200), (800, 600)),  # 2x: from the 1600 one
        ((1600, 1200), (700, 525)),  # 800 is not 2x 700: from the 1600 one
        ((700, 525), (320, 240)),  # the smallest image with 2x to spare
    ]


@pytest.mark.parametrize("edge", [300, 150])
def test_cascaded_renditions_match_a_direct_lanczos_reference(edge):
    data = corpus.save(corpus.zone_plate_cached(ZONE_W, ZONE_H), "PNG")
    renditions = (Rendition("big", 600, "png"), Rendition("out", edge, "png"))

    _, encoded = render(data, settings(*renditions))
    image = Image.open(io.BytesIO(encoded[1].data)).convert("RGB")
    expected = reference(data, image.size)

    assert psnr(image, expected) >= 45
    assert aliasing(image) <= 1.05 * aliasing(expected) + 0.3


def test_transparent_pixels_do_not_bleed_their_colour_into_the_cascade():
    im = Image.new("RGBA", (1600, 1200), (255, 0, 0, 0))  # invisible red ...
    im.paste((0, 0, 255, 255), (800, 0, 1600, 1200))  # ... next to opaque blue
    renditions = (Rendition("l", 800, "png"), Rendition("m", 400, "png"), Rendition("s", 100, "png"))

    _, encoded = render(corpus.save(im, "PNG"), settings(*renditions))

    for e in encoded:
        out = Image.open(io.BytesIO(e.data))
        assert out.mode == "RGBA"
        edge = [out.getpixel((x, out.height // 2)) for x in range(out.width // 2 - 4, out.width // 2 + 4)]
        assert all(r <= 2 for r, g, b, a in edge if a > 0), edge  # premultiplied: no red fringe


# ---- allocator: freed image memory is kept for the next image ------------------------------------
# Measured in a fresh interpreter through glibc's own accounting (mallinfo2): the allocator's
# settings are process-wide and this process may have rendered images already.
ALLOCATION_PROBE = """
import ctypes
class Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2
from imgpipe.image import allocator
allocator.keep_freed_memory()
before = libc.mallinfo2().hblkhd
image_buffer = bytearray(24 << 20)  # one Pillow-sized image block and then some
mapped = libc.mallinfo2().hblkhd - before
del image_buffer
print(mapped, libc.mallinfo2().fordblks)
"""
IMAGE_BUFFER = 24 << 20


def _has_mallinfo2() -> bool:
    import ctypes

    try:
        return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")
    except OSError:
        return False


needs_glibc = pytest.mark.skipif(not _has_mallinfo2(), reason="glibc >= 2.33 (mallinfo2) only")


def allocate_and_free_an_image_buffer(**environment: str) -> tuple[int, int]:
    """(bytes of the buffer glibc served by mmap, free bytes kept in the heap after it was freed)."""
    env = {k: v for k, v in os.environ.items() if k not in allocator.MALLOC_VARIABLES} | environment
    done = subprocess.run([sys.executable, "-c", ALLOCATION_PROBE], capture_output=True, text=True, env=env, check=True)
    mapped, kept = map(int, done.stdout.split())
    return mapped, kept


@needs_glibc
def test_freed_image_memory_stays_in_the_process_for_the_next_image():
    mapped, kept = allocate_and_free_an_image_buffer()
    assert mapped == 0  # served from the heap, not a fresh zero-filled mapping
    assert kept >= IMAGE_BUFFER  # and kept there after it was freed


@needs_glibc
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
        ("MALLOC_TRIM_THRESHOLD_", "131072"),
        ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=131072"),
    ],
)
def test_an_operators_own_glibc_settings_are_left_alone(variable, value):
    mapped, _ = allocate_and_free_an_image_buffer(**{variable: value})
    assert mapped >= IMAGE_BUFFER  # glibc's behaviour under the operator's setting: a mapping of its own


def test_without_glibc_nothing_happens(monkeypatch):
    import ctypes

    def no_mallopt(name):
        raise OSError("not here")

    monkeypatch.setattr(ctypes, "CDLL", no_mallopt)
    for name in allocator.MALLOC_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    allocator.keep_freed_memory.__wrapped__()  # no exception


# ---- encoder settings (chosen by measurement, docs/performance.md) ------------------------------
# WebP, AVIF and PNG are written with Pillow's defaults (method 4, speed 6, level 6): nothing to
# observe beyond the format and quality tests above.  JPEG differs from the default encoder:
def test_jpeg_renditions_are_progressive_420_and_smaller_than_the_default_encoders_identical_pixels():
    from PIL import ImageChops, JpegImagePlugin

    source = Image.open(io.BytesIO(corpus.save(corpus.photo(400, 300), "PNG"))).convert("RGB")
    ours = encode(source, Rendition("out", 400, "jpeg", 85), PipelineSettings())
    baseline = io.BytesIO()
    source.save(baseline, "JPEG", quality=85)

    image = Image.open(io.BytesIO(ours.data))
    assert image.info.get("progressive") or image.info.get("progression")
    assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    assert len(ours.data) < len(baseline.getvalue())
    assert ImageChops.difference(image.convert("RGB"), Image.open(baseline).convert("RGB")).getbbox() is None
