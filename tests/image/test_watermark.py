"""Text and/or logo watermark: placement, size, opacity, tiling, legibility."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from PIL import Image, ImageChops

from imgpipe.config import ANCHORS, Rendition, Watermark
from imgpipe.image import watermark
from imgpipe.image.render import render
from tests import corpus
from tests.image.helpers import reopen, settings

W, H = 800, 600
BASE = Watermark(text="imgpipe", opacity=1.0, margin=0.05, size=0.05)


def canvas(colour=(128, 128, 128), mode="RGB", size=(W, H)) -> Image.Image:
    return Image.new(mode, size, colour if mode == "RGB" else (*colour, 255))


def changed_box(before: Image.Image, after: Image.Image, threshold: int = 8) -> tuple[int, int, int, int]:
    diff = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).convert("L")
    box = diff.point(lambda v: 255 if v > threshold else 0).getbbox()
    assert box is not None, "nothing was drawn"
    return box


def noise(size=(W, H), seed=7) -> Image.Image:
    rng = random.Random(seed)
    small = Image.frombytes(
        "RGB", (size[0] // 4, size[1] // 4), bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3 // 16))
    )
    return small.resize(size, Image.Resampling.NEAREST)


@pytest.mark.parametrize("anchor", ANCHORS)
def test_the_nine_anchors_place_the_stamp_within_the_margin(anchor):
    before = canvas()
    margin = round(min(W, H) * BASE.margin)

    left, top, right, bottom = changed_box(before, watermark.apply(before, replace(BASE, anchor=anchor)))

    vertical, horizontal = [*anchor.split("-"), anchor][:2] if "-" in anchor else (anchor, anchor)
    if horizontal == "left":
        assert abs(left - margin) <= 2
    elif horizontal == "right":
        assert abs(right - (W - margin)) <= 2
    else:
        assert abs((left + right) / 2 - W / 2) <= 2
    if vertical == "top":
        assert abs(top - margin) <= 2
    elif vertical == "bottom":
        assert abs(bottom - (H - margin)) <= 2
    else:
        assert abs((top + bottom) / 2 - H / 2) <= 2


def test_the_stamp_size_is_relative_to_the_rendition():
    small = changed_box(canvas(size=(400, 300)), watermark.apply(canvas(size=(400, 300)), BASE))
    large = changed_box(canvas(size=(1600, 1200)), watermark.apply(canvas(size=(1600, 1200)), BASE))
    bigger = changed_box(canvas(), watermark.apply(canvas(), replace(BASE, size=0.10)))
    normal = changed_box(canvas(), watermark.apply(canvas(), BASE))

    def height(box):
        return box[3] - box[1]

    assert 3.6 <= height(large) / height(small) <= 4.4  # 4x the short edge → 4x the text
    assert 1.8 <= height(bigger) / height(normal) <= 2.2
    assert 0.6 * 0.05 * H <= height(normal) <= 1.6 * 0.05 * H


@pytest.mark.parametrize("opacity", [1.0, 0.55, 0.25])
def test_opacity_scales_the_stamp(opacity):
    before = canvas((0, 0, 0))

    after = watermark.apply(before, replace(BASE, opacity=opacity))

    brightest = max(after.convert("L").getextrema())
    assert abs(brightest - 255 * opacity) <= 4


def test_renditions_below_min_edge_are_left_alone_and_the_input_is_never_modified():
    small, large = canvas(size=(199, 100)), canvas(size=(200, 100))
    pristine = large.tobytes()

    assert watermark.apply(small, replace(BASE, min_edge=200)) is small
    marked = watermark.apply(large, replace(BASE, min_edge=200))
    assert marked is not large and marked.tobytes() != pristine
    assert large.tobytes() == pristine


@pytest.mark.parametrize("text", ["", "   "])
def test_nothing_to_draw_returns_the_image_unchanged(text):
    image = canvas()

    assert watermark.apply(image, replace(BASE, text=text)) is image


@pytest.mark.parametrize(
    "background",
    [lambda: canvas((255, 255, 255)), lambda: canvas((0, 0, 0)), noise],
    ids=["white", "black", "busy"],
)
def test_the_default_watermark_is_legible_on_light_dark_and_busy_backgrounds(background):
    before = background()
    after = watermark.apply(before, Watermark())  # the shipped defaults, opacity 0.55

    box = changed_box(before, after)
    diff = ImageChops.difference(before.convert("L"), after.convert("L")).crop(box)
    strong = sum(diff.histogram()[60:])  # pixels changed by at least 60 of 255 levels
    assert strong >= 0.08 * (box[2] - box[0]) * (box[3] - box[1])
    lum_before, lum_after = before.convert("L").crop(box), after.convert("L").crop(box)
    darker = ImageChops.subtract(lum_before, lum_after).getextrema()[1]
    lighter = ImageChops.subtract(lum_after, lum_before).getextrema()[1]
    assert max(darker, lighter) >= 100  # the fill or the outline always stands out


def test_long_text_is_shrunk_to_fit_between_the_margins():
    narrow = canvas(size=(300, 900))
    settings_ = replace(BASE, text="A watermark far too long for this narrow portrait rendition", anchor="bottom")

    left, _, right, _ = changed_box(narrow, watermark.apply(narrow, settings_))

    margin = round(300 * BASE.margin)
    assert left >= margin - 1 and right <= 300 - margin + 1


def test_tiling_covers_the_whole_image():
    before = canvas()

    after = watermark.apply(before, replace(BASE, tile=True))

    diff = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 8 else 0)
    for box in [(0, 0, W // 2, H // 2), (W // 2, 0, W, H // 2), (0, H // 2, W // 2, H), (W // 2, H // 2, W, H)]:
        assert diff.crop(box).getbbox() is not None, box
    assert 0.02 < sum(diff.histogram()[255:]) / (W * H) < 0.5


def test_tiling_an_opaque_rgba_image_composites_exactly_like_rgb():
    # The stamps that cross the top/left edges used to be pasted (not composited) onto RGBA,
    # leaving semi-transparent holes in an opaque image.
    photo = corpus.photo(W, H)
    rgb = watermark.apply(photo, replace(Watermark(), tile=True))
    rgba = watermark.apply(photo.convert("RGBA"), replace(Watermark(), tile=True))

    assert rgba.getchannel("A").getextrema() == (255, 255)
    assert ImageChops.difference(rgba.convert("RGB"), rgb).getextrema() <= ((0, 1),) * 3


def test_on_transparent_areas_the_stamp_is_composited_over_not_pasted():
    clear = Image.new("RGBA", (W, H), (0, 0, 0, 0))

    marked = watermark.apply(clear, replace(BASE, opacity=0.5))

    alphas = set(marked.getchannel("A").get_flattened_data())
    assert max(alphas) == 128  # stamp alpha 255 x opacity 0.5, over nothing


def red_logo(size=(60, 40)) -> Image.Image:
    logo = Image.new("RGBA", size, (0, 0, 0, 0))
    logo.paste((220, 0, 0, 255), (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    return logo


def test_a_logo_alone_is_placed_and_scaled_like_the_text():
    before = canvas((255, 255, 255))

    after = watermark.apply(before, replace(BASE, text=""), red_logo())

    left, top, right, bottom = changed_box(before, after)
    px = round(H * BASE.size)
    assert abs((bottom - top) - px) <= 2  # the logo is drawn 2x text height, its red core is half of it
    assert right > W * 0.8 and bottom > H * 0.8  # bottom-right by default
    r, g, b = after.getpixel(((left + right) // 2, (top + bottom) // 2))
    assert r > 200 and g < 30 and b < 30


def test_logo_and_text_together():
    before = canvas((60, 60, 60))

    after = watermark.apply(before, BASE, red_logo())

    colours = set(after.crop(changed_box(before, after)).get_flattened_data())
    assert any(r > 200 and g < 40 for r, g, b in colours)  # the logo
    assert any(min(c) > 240 for c in colours)  # the white text


def test_the_pipeline_watermarks_large_renditions_and_skips_small_ones():
    data = corpus.save(canvas(), "PNG")
    renditions = (Rendition("big", 800, "png"), Rendition("thumb", 150, "png"))

    _, (big, thumb) = render(data, settings(*renditions, watermark=Watermark(min_edge=200)))

    assert reopen(big.data).getextrema() != ((128, 128),) * 3
    assert reopen(thumb.data).getextrema() == ((128, 128),) * 3


@pytest.mark.parametrize("offset", [(-30, -20), (W - 40, H - 30), (-30, H - 30)])
def test_stamps_crossing_the_edges_are_clipped_and_composited_over(offset):
    stamp = Image.new("RGBA", (100, 60), (255, 255, 255, 0))
    stamp.paste((255, 255, 255, 140), (10, 10, 90, 50))
    rgb, rgba = canvas(), canvas(mode="RGBA")

    watermark.composite(rgb, stamp, *offset)
    watermark.composite(rgba, stamp, *offset)

    assert rgba.getchannel("A").getextrema() == (255, 255)  # a paste would have punched holes
    assert ImageChops.difference(rgba.convert("RGB"), rgb).getextrema() <= ((0, 1),) * 3
    assert changed_box(canvas(), rgb) is not None
