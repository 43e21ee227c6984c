"""All eight EXIF orientations come out upright, checked by pixel content."""

from __future__ import annotations

import pytest
from PIL import Image

from tests import corpus
from tests.image.helpers import close, mean_colour, render_one

W, H = 96, 64  # upright size of the quadrant picture: not square, so 5-8 must swap the sides


def assert_upright_quadrants(image: Image.Image) -> None:
    assert image.size == (W, H)
    w4, h4 = W // 4, H // 4
    centres = {
        "top-left": (w4, h4),
        "top-right": (3 * w4, h4),
        "bottom-left": (w4, 3 * h4),
        "bottom-right": (3 * w4, 3 * h4),
    }
    for corner, (x, y) in centres.items():
        got = mean_colour(image, (x - 4, y - 4, x + 4, y + 4))
        assert close(got, corpus.QUADRANTS[corner], 24), f"{corner}: {got} != {corpus.QUADRANTS[corner]}"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_of_a_jpeg_renders_upright(orientation):
    info, _, image = render_one(corpus.oriented(orientation, "JPEG"))

    assert_upright_quadrants(image)
    assert (info.width, info.height) == (W, H)
    assert info.orientation == orientation


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "AVIF"])
def test_every_exif_orientation_renders_upright_in_other_containers(fmt, orientation):
    # PNG: eXIf chunk; WebP: EXIF chunk; TIFF: the Orientation tag; AVIF: irot/imir boxes.
    _, _, image = render_one(corpus.oriented(orientation, fmt))

    assert_upright_quadrants(image)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_heic_orientation_is_applied_once(orientation):
    # libheif applies the container's irot/imir itself and pillow-heif resets the EXIF tag: the
    # image must not be turned a second time.
    info, _, image = render_one(corpus.oriented(orientation, "HEIF"))

    assert_upright_quadrants(image)
    assert (info.width, info.height) == (W, H)


@pytest.mark.parametrize(
    "value", [0, 9, 255, 65535, 65542, "6", (9, 9)], ids=["0", "9", "255", "65535", "long", "text", "pair"]
)
def test_invalid_orientation_values_are_ignored(value):
    info, _, image = render_one(corpus.with_raw_orientation(value))

    assert_upright_quadrants(image)  # stored upright, shown as stored
    assert info.orientation == 1


def test_a_malformed_exif_block_does_not_fail_the_image():
    data = corpus.save(
        corpus.quadrants(), "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*\x00\x00\xff\xff\xff\xf0garbage"
    )

    info, _, image = render_one(data)

    assert_upright_quadrants(image)
    assert info.orientation == 1
    assert info.camera == {"gps_present": False}


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "png"])
def test_renditions_carry_no_orientation_tag(fmt):
    _, _, image = render_one(corpus.oriented(6, "JPEG"), fmt=fmt)

    assert 0x0112 not in image.getexif()
    assert_upright_quadrants(image)
