"""Colour-correct output, 8-bit sRGB, whatever the input's colour model."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from imgpipe.paths import checkout_root
from tests import corpus
from tests.image.helpers import close, mean_colour, render_one

PATCH = 32


def patch_colours(image: Image.Image) -> list[tuple[int, ...]]:
    return [mean_colour(image, (i * PATCH + 8, 8, i * PATCH + 24, 24)) for i in range(len(corpus.CMYK_PATCHES))]


def press_reference() -> list[tuple[int, ...]]:
    """What the test press profile says each patch looks like, computed from its model (not lcms)."""
    return [
        tuple(round(255 * v) for v in corpus.press_cmyk_to_srgb(*(x / 255 for x in p))) for p in corpus.CMYK_PATCHES
    ]


def naive(cmyk: tuple[int, int, int, int]) -> tuple[int, ...]:
    return Image.new("CMYK", (1, 1), cmyk).convert("RGB").getpixel((0, 0))


@pytest.mark.parametrize(
    "make",
    [
        lambda: corpus.cmyk_jpeg(corpus.cmyk_profile()),
        lambda: corpus.ycck_jpeg(corpus.cmyk_profile()),
        lambda: corpus.save(corpus.cmyk_patches(), "TIFF", icc_profile=corpus.cmyk_profile()),
    ],
    ids=["cmyk-jpeg", "ycck-jpeg", "cmyk-tiff"],
)
def test_cmyk_with_a_profile_is_converted_through_it(make):
    _, _, image = render_one(make())

    got = patch_colours(image)
    for patch, colour, expected in zip(corpus.CMYK_PATCHES, got, press_reference(), strict=True):
        assert close(colour, expected, 8), f"{patch}: {colour} != {expected}"
    # The test discriminates: pure cyan through the profile is far from the naive formula's.
    assert not close(got[0], naive(corpus.CMYK_PATCHES[0]), 40)


@pytest.mark.parametrize("make", [corpus.cmyk_jpeg, corpus.ycck_jpeg], ids=["cmyk", "ycck"])
def test_cmyk_without_a_profile_falls_back_to_the_plain_conversion(make):
    _, _, image = render_one(make())

    for patch, colour in zip(corpus.CMYK_PATCHES, patch_colours(image), strict=True):
        assert close(colour, naive(patch), 6), f"{patch}: {colour} != {naive(patch)}"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_a_wide_gamut_rgb_profile_is_converted_to_srgb(fmt):
    source = (100, 180, 60)
    options = {"quality": 100} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "WEBP":
        options = {"lossless": True}
    data = corpus.save(Image.new("RGB", (32, 32), source), fmt, icc_profile=corpus.wide_rgb_profile(), **options)

    _, _, image = render_one(data)

    expected = corpus.wide_rgb_to_srgb(source)
    assert close(mean_colour(image, (8, 8, 24, 24)), expected, 3)
    assert not close(expected, source, 20)  # the profile matters for this colour


def test_profile_conversion_keeps_the_alpha_channel():
    im = Image.new("RGBA", (32, 32), (100, 180, 60, 255))
    im.paste((100, 180, 60, 0), (0, 0, 16, 32))
    data = corpus.save(im, "PNG", icc_profile=corpus.wide_rgb_profile())

    info, _, image = render_one(data)

    assert image.mode == "RGBA" and info.has_alpha
    assert image.getpixel((4, 4))[3] == 0 and image.getpixel((24, 4))[3] == 255
    assert close(image.getpixel((24, 4))[:3], corpus.wide_rgb_to_srgb((100, 180, 60)), 3)


def test_a_grey_profile_is_honoured():
    data = corpus.save(Image.new("L", (32, 32), 128), "PNG", icc_profile=corpus.grey_linear_profile())

    _, _, image = render_one(data)

    # Linear 50 % grey is sRGB ~188, not 128.
    assert close(image.getpixel((16, 16)), (188, 188, 188), 3)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_srgb_tagged_and_untagged_images_keep_their_values(fmt):
    colour = (100, 180, 60)
    options = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    tagged = corpus.save(Image.new("RGB", (32, 32), colour), fmt, icc_profile=corpus.srgb_profile(), **options)
    untagged = corpus.save(Image.new("RGB", (32, 32), colour), fmt, **options)

    for data in (tagged, untagged):
        _, _, image = render_one(data)
        assert close(image.getpixel((16, 16)), colour, 2)


@pytest.mark.parametrize(
    "profile",
    [b"garbage" * 40, b"\x00" * 36 + b"acsp" + b"\x00" * 200, None],
    ids=["garbage", "empty-acsp", "cmyk-profile-on-rgb"],
)
def test_unusable_or_mismatched_profiles_are_ignored(profile):
    profile = profile or corpus.cmyk_profile()
    data = corpus.save(Image.new("RGB", (32, 32), (100, 180, 60)), "PNG", icc_profile=profile)

    _, _, image = render_one(data)

    assert close(image.getpixel((16, 16)), (100, 180, 60), 1)


def test_16_bit_greyscale_is_scaled_not_clipped():
    row = [(0,), (16384,), (32768,), (49152,), (65535,)]
    data = corpus.png_bytes([row] * 2, color_type=0, bit_depth=16)

    _, _, image = render_one(data)

    values = [image.getpixel((x, 0))[0] for x in range(5)]
    assert values == [0, 64, 128, 191, 255]


def test_16_bit_rgb_and_rgba_keep_their_colours():
    pixels = [[(65535, 32768, 0, 65535), (0, 0, 65535, 0)]] * 2
    rgb = corpus.png_bytes([[p[:3] for p in row] for row in pixels], color_type=2, bit_depth=16)
    rgba = corpus.png_bytes(pixels, color_type=6, bit_depth=16)

    _, _, image = render_one(rgb)
    assert close(image.getpixel((0, 0)), (255, 128, 0), 1)
    info, _, image = render_one(rgba)
    assert info.has_alpha and image.getpixel((1, 0))[3] == 0 and close(image.getpixel((0, 0)), (255, 128, 0, 255), 1)


def test_palette_with_transparency_keeps_alpha_in_png_and_flattens_onto_the_background_in_jpeg():
    im = Image.new("P", (32, 32), 1)
    im.putpalette([0, 0, 0, 200, 40, 40] + [0] * 762)
    im.paste(0, (0, 0, 16, 32))
    data = corpus.save(im, "PNG", transparency=0)

    info, _, png = render_one(data, fmt="png")
    _, _, jpeg = render_one(data, fmt="jpeg", background="#00ff00")

    assert info.has_alpha
    assert png.mode == "RGBA" and png.getpixel((4, 16))[3] == 0 and png.getpixel((28, 16)) == (200, 40, 40, 255)
    assert jpeg.mode == "RGB"
    assert close(mean_colour(jpeg, (2, 8, 12, 24)), (0, 255, 0), 12)  # the configured background
    assert close(mean_colour(jpeg, (20, 8, 30, 24)), (200, 40, 40), 12)


def test_grey_with_alpha_keeps_alpha():
    data = corpus.png_bytes([[(10, 0), (200, 255)]] * 2, color_type=4)

    info, _, image = render_one(data)

    assert info.has_alpha and image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((1, 0)) == (200, 200, 200, 255)


def test_an_alpha_channel_that_is_fully_opaque_is_dropped():
    data = corpus.save(corpus.photo(64, 48).convert("RGBA"), "PNG")

    info, encoded, image = render_one(data, fmt="auto")

    assert not info.has_alpha
    assert encoded.format == "jpeg" and image.mode == "RGB"


def test_colour_management_and_heif_support_are_not_loaded_for_ordinary_images(tmp_path):
    # The hot path (an sRGB-tagged or untagged JPEG/PNG) must not pay for the ImageCms or
    # pillow-heif imports; a fresh interpreter shows what the path really imports.
    (tmp_path / "plain.jpg").write_bytes(corpus.save(corpus.photo(64, 48), "JPEG"))
    (tmp_path / "srgb.png").write_bytes(corpus.save(corpus.photo(64, 48), "PNG", icc_profile=corpus.srgb_profile()))
    (tmp_path / "srgb.jpg").write_bytes(corpus.save(corpus.photo(64, 48), "JPEG", icc_profile=corpus.srgb_profile()))
    script = textwrap.dedent(
        f"""
        import pathlib, sys
        from imgpipe.config import PipelineSettings
        from imgpipe.image.render import render
        for path in sorted(pathlib.Path({str(tmp_path)!r}).iterdir()):
            render(path.read_bytes(), PipelineSettings())
        print("PIL.ImageCms" in sys.modules, "pillow_heif" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=checkout_root()
    )
    assert done.stdout.split() == ["False", "False"]
