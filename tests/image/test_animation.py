"""Animated images render their first frame; frame count and duration are recorded."""

from __future__ import annotations

import pytest

from tests import corpus
from tests.image.helpers import close, render_one


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "AVIF"])
def test_animations_render_the_first_frame_and_record_frames_and_duration(fmt):
    info, _, image = render_one(corpus.animation(fmt))

    assert info.animated is True
    assert info.frames == len(corpus.FRAME_COLOURS)
    assert info.duration_ms == sum(corpus.FRAME_DURATIONS)
    assert close(image.getpixel((10, 10)), corpus.FRAME_COLOURS[0], 6)


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP", "AVIF"])
def test_still_images_in_animation_capable_formats_are_not_animated(fmt):
    info, _, _ = render_one(corpus.save(corpus.photo(32, 24), fmt))

    assert (info.frames, info.animated, info.duration_ms) == (1, False, None)


def test_multi_page_tiff_renders_page_one_and_counts_pages_but_is_not_an_animation():
    pages = [corpus.photo(64, 48, seed=i) for i in range(3)]
    data = corpus.save(pages[0], "TIFF", save_all=True, append_images=pages[1:])

    info, _, image = render_one(data)

    assert (info.frames, info.animated, info.duration_ms) == (3, False, None)
    assert image.tobytes() == pages[0].tobytes()


def test_mpo_side_images_are_not_frames():
    data = corpus.save(corpus.photo(64, 48), "MPO", save_all=True, append_images=[corpus.photo(32, 24, 5)])

    info, _, image = render_one(data)

    assert (info.frames, info.animated) == (1, False)
    assert image.size == (64, 48)


def test_a_gif_whose_first_frame_is_transparent_keeps_the_transparency():
    from PIL import Image

    first = Image.new("P", (16, 16), 0)
    first.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    first.paste(1, (8, 0, 16, 16))
    second = first.copy()
    second.paste(1, (0, 0, 16, 16))
    data = corpus.save(first, "GIF", save_all=True, append_images=[second], transparency=0, duration=50, disposal=2)

    info, _, image = render_one(data)

    assert info.animated and info.has_alpha
    assert image.getpixel((2, 8))[3] == 0 and image.getpixel((12, 8)) == (250, 10, 10, 255)
