"""Renditions carry no metadata; the record keeps only bounded, non-sensitive facts."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from imgpipe.config import Rendition
from imgpipe.image.exif import MAX_COPYRIGHT, MAX_TEXT, TAG_COPYRIGHT
from imgpipe.image.render import render
from tests import corpus
from tests.image.helpers import render_one, settings

PRIVATE_INPUTS = {
    "jpeg": corpus.private_jpeg,
    "png": corpus.private_png,
    "webp": corpus.private_webp,
    "heic": corpus.private_heic,
}
OUTPUT_FORMATS = ["jpeg", "webp", "avif", "png"]
METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop", "iptc", "Comment"}
# Raw markers of metadata containers in the output files (EXIF, XMP, IPTC, ICC, PNG text chunks).
CONTAINER_MARKERS = (
    b"Exif",
    b"x:xmpmeta",
    b"rdf+xml",
    b"Photoshop 3.0",
    b"ICC_PROFILE",
    b"iCCP",
    b"tEXt",
    b"iTXt",
    b"zTXt",
    b"eXIf",
)


@pytest.mark.parametrize("output", OUTPUT_FORMATS)
@pytest.mark.parametrize("source", sorted(PRIVATE_INPUTS))
def test_renditions_carry_no_exif_gps_xmp_iptc_icc_or_comments(source, output):
    _, encoded, image = render_one(PRIVATE_INPUTS[source](), fmt=output, edge=200)

    for marker in corpus.SECRET_MARKERS + CONTAINER_MARKERS:
        assert marker not in encoded.data, marker
    assert not METADATA_KEYS & set(image.info)
    exif = image.getexif()
    assert len(exif) == 0
    assert not exif.get_ifd(0x8825)  # no GPS


def test_the_record_keeps_make_model_time_and_only_whether_gps_was_present():
    info, _ = render(corpus.private_jpeg(), settings(Rendition("out", 64, "jpeg")))

    assert info.camera == {
        "make": "ExampleCam",
        "model": "EC-1 Mark II",
        "captured_at": "2026-05-04T09:08:07+02:00",
        "gps_present": True,
    }
    record = json.dumps(info.to_dict())
    assert "SECRET" not in record
    for value in corpus.SECRETS["gps_lat"] + corpus.SECRETS["gps_lon"]:
        assert str(value) not in record.replace(info.sha256, "")


def test_gps_only_in_xmp_is_noticed_but_not_kept():
    xmp = corpus.SECRETS["xmp"]
    data = corpus.save(corpus.photo(64, 48), "JPEG", xmp=xmp)

    info, _ = render(data, settings(Rendition("out", 64, "jpeg")))

    assert info.camera == {"gps_present": True}


def test_an_image_without_metadata_records_no_camera_facts():
    info, _ = render(corpus.save(corpus.photo(64, 48), "PNG"), settings())

    assert info.camera == {"gps_present": False}


def test_record_strings_are_sanitised_and_length_capped():
    exif = Image.Exif()
    exif[0x010F] = "Evil\x00Cam\x1b[31m\u202e" + "A" * 5000
    exif[0x0110] = b"\xff\xfe\x00bad-bytes\x07"
    exif[0x0132] = "2026:13:45 99:99:99"
    data = corpus.save(corpus.photo(64, 48), "JPEG", exif=exif.tobytes())

    info, _ = render(data, settings(Rendition("out", 64, "jpeg")))

    make, model = info.camera["make"], info.camera["model"]
    assert len(make) <= MAX_TEXT and len(model) <= MAX_TEXT
    assert make.startswith("Evil Cam [31m")
    assert all(ch.isprintable() for ch in make + model)
    assert "captured_at" not in info.camera  # an impossible date is dropped, not stored


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026:05:04 09:08:07", "2026-05-04T09:08:07"),
        ("0000:00:00 00:00:00", None),
        ("    :  :     :  :  ", None),
        ("yesterday", None),
    ],
)
def test_capture_time_is_validated(raw, expected):
    exif = Image.Exif()
    exif[0x0132] = raw
    data = corpus.save(corpus.photo(32, 32), "JPEG", exif=exif.tobytes())

    info, _ = render(data, settings(Rendition("out", 32, "jpeg")))

    assert info.camera.get("captured_at") == expected


@pytest.mark.parametrize("output", OUTPUT_FORMATS)
def test_keep_copyright_keeps_the_copyright_line_and_nothing_else(output):
    _, encoded, image = render_one(corpus.private_jpeg(), fmt=output, edge=200, keep_copyright=True)

    assert dict(image.getexif()) == {TAG_COPYRIGHT: corpus.SECRETS["copyright"]}
    for marker in (*corpus.SECRET_MARKERS[:1], b"x:xmpmeta", b"Photoshop 3.0", b"ICC_PROFILE"):
        assert marker not in encoded.data, marker


def test_without_keep_copyright_the_copyright_line_is_dropped_too():
    _, encoded, image = render_one(corpus.private_jpeg(), fmt="jpeg", edge=200)

    assert corpus.SECRETS["copyright"].encode() not in encoded.data
    assert len(image.getexif()) == 0


def test_a_kept_copyright_line_is_sanitised_and_capped():
    exif = Image.Exif()
    exif[TAG_COPYRIGHT] = "(c) Someone\r\n\x00" + "x" * 1000
    data = corpus.save(corpus.photo(64, 48), "JPEG", exif=exif.tobytes())

    _, _, image = render_one(data, fmt="jpeg", keep_copyright=True)

    kept = image.getexif()[TAG_COPYRIGHT]
    assert kept.startswith("(c) Someone x")
    assert len(kept) <= MAX_COPYRIGHT


def test_data_appended_to_a_decodable_image_does_not_reach_the_rendition():
    png = corpus.save(corpus.photo(64, 48), "PNG")
    polyglot = png + b"PK\x03\x04" + b"<script>alert(1)</script>" * 4

    _, encoded, image = render_one(polyglot, fmt="png")

    assert b"PK\x03\x04" not in encoded.data and b"<script" not in encoded.data
    assert image.size == (64, 48)
