"""The resize step over a fake in-memory store."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from functions.resize.logic import intermediate_key, resize_image
from imgpipe.config import PipelineSettings, Rendition, Watermark
from imgpipe.errors import PermanentError
from imgpipe.image.exif import COPYRIGHT_KEY
from imgpipe.image.intermediate import decode_intermediate
from tests import corpus
from tests.fakes import FakeStore

INPUT, OUTPUT = "uploads-bucket", "output-bucket"
SETTINGS = PipelineSettings(renditions=(Rendition("large", 400), Rendition("small", 100, "webp")))


def event(key: str = "uploads/0123456789abcdef0123456789abcdef/photo.jpg") -> dict:
    return {
        "imageId": "0123456789abcdef0123456789abcdef",
        "source": {"bucket": INPUT, "key": key, "size": 0, "eTag": "e"},
    }


def store_with(data: bytes, key: str = "uploads/0123456789abcdef0123456789abcdef/photo.jpg") -> FakeStore:
    store = FakeStore()
    store.put(INPUT, key, data, "application/octet-stream")
    return store


def test_writes_every_rendition_lossless_and_upright_into_one_object():
    store = store_with(corpus.oriented(6, "JPEG", width=600, height=400))

    result = resize_image(event(), store, SETTINGS, OUTPUT)

    large_bytes = 16 + 400 * 267 * 3
    assert result["intermediates"] == [
        {
            "name": "large",
            "key": "work/0123456789abcdef0123456789abcdef/renditions.raw",
            "offset": 0,
            "length": large_bytes,
            "width": 400,
            "height": 267,
        },
        {
            "name": "small",
            "key": "work/0123456789abcdef0123456789abcdef/renditions.raw",
            "offset": large_bytes,
            "length": 16 + 100 * 67 * 3,
            "width": 100,
            "height": 67,
        },
    ]
    assert store.keys(OUTPUT) == ["work/0123456789abcdef0123456789abcdef/renditions.raw"]  # one PUT per image
    stored = store.objects[(OUTPUT, "work/0123456789abcdef0123456789abcdef/renditions.raw")]
    assert stored.content_type == "application/octet-stream"
    assert len(stored.data) == sum(item["length"] for item in result["intermediates"])
    for item in result["intermediates"]:
        part = stored.data[item["offset"] : item["offset"] + item["length"]]
        assert part[:4] == b"IPRW"
        image = decode_intermediate(part)
        assert image.mode == "RGB" and image.size == (item["width"], item["height"])
        assert image.info == {}  # no ICC, EXIF, comments: pixels only
    # upright: the top-left quadrant of the picture is red
    large = decode_intermediate(part_of(store, result, "large"))
    assert large.getpixel((40, 40))[0] > 180 and large.getpixel((40, 40))[2] < 80


def test_renditions_of_the_same_size_share_one_part():
    settings = PipelineSettings(renditions=(Rendition("a", 100), Rendition("b", 100, "webp")))
    store = store_with(corpus.save(corpus.photo(300, 200), "JPEG"))

    first, second = resize_image(event(), store, settings, OUTPUT)["intermediates"]

    assert (first["offset"], first["length"]) == (second["offset"], second["length"]) == (0, 16 + 100 * 67 * 3)
    assert len(store.data(OUTPUT, first["key"])) == first["length"]


def part_of(store: FakeStore, result: dict, name: str) -> bytes:
    """A rendition's intermediate, cut from the image's one object as the watermark step does."""
    (item,) = [i for i in result["intermediates"] if i["name"] == name]
    return store.data(OUTPUT, item["key"])[item["offset"] : item["offset"] + item["length"]]


def test_returns_the_original_facts_for_the_record():
    data = corpus.private_jpeg(width=320, height=240)
    store = store_with(data)

    original = resize_image(event(), store, SETTINGS, OUTPUT)["original"]

    assert original["key"] == "uploads/0123456789abcdef0123456789abcdef/photo.jpg"
    assert (original["format"], original["mime"], original["width"], original["height"]) == (
        "JPEG",
        "image/jpeg",
        320,
        240,
    )
    assert original["bytes"] == len(data) and len(original["sha256"]) == 64
    assert original["camera"]["gps_present"] is True and "SECRET" not in json.dumps(original)
    assert len(json.dumps(original)) < 2000  # a small Step Functions payload


def test_transparency_survives_into_the_intermediate():
    rgba = corpus.photo(200, 100).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((200, 100)))
    store = store_with(corpus.save(rgba, "PNG"), "uploads/0123456789abcdef0123456789abcdef/a.png")

    result = resize_image(event("uploads/0123456789abcdef0123456789abcdef/a.png"), store, SETTINGS, OUTPUT)

    assert result["original"]["has_alpha"] is True
    assert decode_intermediate(part_of(store, result, "large")).mode == "RGBA"


def test_a_retry_overwrites_instead_of_accumulating():
    store = store_with(corpus.save(corpus.photo(300, 200), "JPEG"))

    first = resize_image(event(), store, SETTINGS, OUTPUT)
    second = resize_image(event(), store, SETTINGS, OUTPUT)

    assert first == second
    assert store.keys(OUTPUT) == ["work/0123456789abcdef0123456789abcdef/renditions.raw"]


@pytest.mark.parametrize(
    ("name", "data", "code"), corpus.refused_files()[::6], ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_refused_file_raises_its_code_and_writes_nothing(name, data, code):
    store = store_with(data)

    with pytest.raises(PermanentError) as caught:
        resize_image(event(), store, SETTINGS, OUTPUT)

    assert caught.value.code == code
    assert store.keys(OUTPUT) == []


def test_a_missing_source_is_source_missing():
    with pytest.raises(PermanentError) as caught:
        resize_image(event(), FakeStore(), SETTINGS, OUTPUT)
    assert caught.value.code == "SOURCE_MISSING"


def test_an_object_over_the_byte_limit_is_refused_by_the_read():
    data = corpus.save(corpus.photo(300, 200), "PNG")
    store = store_with(data)
    settings = PipelineSettings(limits=PipelineSettings().limits.__class__(max_bytes=len(data) - 1))

    with pytest.raises(PermanentError) as caught:
        resize_image(event(), store, settings, OUTPUT)
    assert caught.value.code == "IMAGE_TOO_LARGE"


def test_the_copyright_line_rides_along_only_when_kept():
    data = corpus.private_jpeg()
    for keep in (False, True):
        store = store_with(data)
        result = resize_image(
            event(), store, PipelineSettings(keep_copyright=keep, watermark=Watermark(text="")), OUTPUT
        )
        info = decode_intermediate(part_of(store, result, "large")).info
        assert info.get(COPYRIGHT_KEY) == (corpus.SECRETS["copyright"] if keep else None)


def test_intermediate_keys_are_deterministic():
    assert intermediate_key("abc") == "work/abc/renditions.raw"


@pytest.mark.parametrize(
    "key",
    [
        "uploads/photo.jpg",
        "elsewhere/0123456789abcdef0123456789abcdef/a.jpg",
        "uploads/ffffffffffffffffffffffffffffffff/a.jpg",
        "uploads/0123456789abcdef0123456789abcdef/../x",
        "uploads/0123456789abcdef0123456789abcdef/a b.jpg",  # a name the API would have sanitised
        "uploads/0123456789abcdef0123456789abcdef/a\u202egpj.exe",
        "uploads/0123456789abcdef0123456789abcdef/.hidden.jpg",
    ],
)
def test_keys_the_api_did_not_issue_are_refused_before_reading(key: str):
    store = store_with(corpus.oriented(1, "JPEG", width=60, height=40), key)
    with pytest.raises(PermanentError) as raised:
        resize_image(event(key), store, SETTINGS, OUTPUT)
    assert raised.value.code == "INVALID_UPLOAD_KEY"
    assert store.keys(OUTPUT) == []


@pytest.mark.parametrize("filename", ["猫の写真.jpg", "صورة_قطة.jpg", "My_Photo_1_.jpg"])
def test_keys_with_names_the_api_keeps_in_any_script_are_processed(filename: str):
    key = f"uploads/0123456789abcdef0123456789abcdef/{filename}"
    store = store_with(corpus.oriented(1, "JPEG", width=60, height=40), key)
    resize_image(event(key), store, SETTINGS, OUTPUT)
    assert store.keys(OUTPUT)
