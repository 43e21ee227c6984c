"""The watermark step over a fake in-memory store (fed by the real resize step)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from functions.resize.logic import resize_image
from functions.watermark.logic import CACHE_CONTROL, load_logo, rendition_key, watermark_renditions
from imgpipe.config import PipelineSettings, Rendition, SettingsError, Watermark
from imgpipe.errors import PermanentError
from imgpipe.image.render import render
from tests import corpus
from tests.fakes import FakeStore

INPUT, OUTPUT = "uploads-bucket", "output-bucket"
RENDITIONS = (Rendition("large", 600), Rendition("thumb", 150, "webp", 70), Rendition("lossless", 300, "png"))
SETTINGS = PipelineSettings(renditions=RENDITIONS, watermark=Watermark(min_edge=200))


def resized(
    data: bytes, settings: PipelineSettings = SETTINGS, store: FakeStore | None = None
) -> tuple[FakeStore, dict]:
    store = store or FakeStore()
    store.put(INPUT, "uploads/0123456789abcdef0123456789abcdef/p.jpg", data, "image/jpeg")
    result = resize_image(
        {
            "imageId": "0123456789abcdef0123456789abcdef",
            "source": {"bucket": INPUT, "key": "uploads/0123456789abcdef0123456789abcdef/p.jpg"},
        },
        store,
        settings,
        OUTPUT,
    )
    return store, {"imageId": "0123456789abcdef0123456789abcdef", "intermediates": result["intermediates"]}


def test_writes_encoded_renditions_with_their_content_type_and_cache_headers():
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))

    result = watermark_renditions(event, store, SETTINGS, OUTPUT)

    assert [
        (r["name"], r["key"], r["format"], r["contentType"], r["width"], r["height"]) for r in result["renditions"]
    ] == [
        ("large", "renditions/0123456789abcdef0123456789abcdef/large.jpg", "jpeg", "image/jpeg", 600, 450),
        ("thumb", "renditions/0123456789abcdef0123456789abcdef/thumb.webp", "webp", "image/webp", 150, 112),
        ("lossless", "renditions/0123456789abcdef0123456789abcdef/lossless.png", "png", "image/png", 300, 225),
    ]
    for r in result["renditions"]:
        stored = store.objects[(OUTPUT, r["key"])]
        assert stored.content_type == r["contentType"] and stored.cache_control == CACHE_CONTROL
        assert r["bytes"] == len(stored.data)
        assert Image.open(io.BytesIO(stored.data)).size == (r["width"], r["height"])


def test_only_renditions_at_or_above_min_edge_are_watermarked():
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))

    result = watermark_renditions(event, store, SETTINGS, OUTPUT)

    assert {r["name"]: r["watermarked"] for r in result["renditions"]} == {
        "large": True,
        "thumb": False,
        "lossless": True,
    }


def test_the_two_steps_produce_exactly_what_render_previews():
    data = corpus.private_jpeg(width=900, height=600)
    settings = PipelineSettings(renditions=RENDITIONS, keep_copyright=True)
    store, event = resized(data, settings)

    result = watermark_renditions(event, store, settings, OUTPUT)
    _, previews = render(data, settings)

    assert [store.data(OUTPUT, r["key"]) for r in result["renditions"]] == [p.data for p in previews]


def test_renditions_carry_no_metadata_but_a_kept_copyright():
    data = corpus.private_jpeg()
    for keep in (False, True):
        settings = PipelineSettings(renditions=RENDITIONS, keep_copyright=keep)
        store, event = resized(data, settings)
        result = watermark_renditions(event, store, settings, OUTPUT)
        for r in result["renditions"]:
            blob = store.data(OUTPUT, r["key"])
            assert b"SECRET-" not in blob
            exif = dict(Image.open(io.BytesIO(blob)).getexif())
            assert exif == ({0x8298: corpus.SECRETS["copyright"]} if keep else {})


def png_logo() -> bytes:
    logo = Image.new("RGBA", (80, 40), (0, 0, 0, 0))
    logo.paste((0, 0, 230, 255), (10, 10, 70, 30))
    return corpus.save(logo, "PNG")


def test_the_logo_is_read_from_the_output_bucket_and_drawn():
    settings = PipelineSettings(
        renditions=(Rendition("large", 600, "png"),), watermark=Watermark(text="", logo_key="brand/logo.png", opacity=1)
    )
    store, event = resized(corpus.save(Image.new("RGB", (800, 600), (250, 250, 250)), "PNG"), settings)
    store.put(OUTPUT, "brand/logo.png", png_logo(), "image/png")

    logo = load_logo(store, settings, OUTPUT)
    result = watermark_renditions(event, store, settings, OUTPUT, logo)

    image = Image.open(io.BytesIO(store.data(OUTPUT, result["renditions"][0]["key"]))).convert("RGB")
    assert any(b > 200 and r < 40 for r, g, b in image.crop((400, 300, 600, 450)).get_flattened_data())
    assert result["renditions"][0]["watermarked"] is True


def test_no_logo_key_means_no_logo():
    assert load_logo(FakeStore(), SETTINGS, OUTPUT) is None


@pytest.mark.parametrize(
    "blob",
    [corpus.save(corpus.photo(40, 20), "JPEG"), b"not an image", corpus.png_header_only(5000, 5000)],
    ids=["jpeg", "text", "huge"],
)
def test_a_bad_logo_is_a_configuration_error(blob):
    settings = PipelineSettings(watermark=Watermark(logo_key="brand/logo.png"))
    store = FakeStore()
    store.put(OUTPUT, "brand/logo.png", blob, "image/png")

    with pytest.raises(SettingsError):
        load_logo(store, settings, OUTPUT)


def test_a_missing_intermediate_is_source_missing():
    image_id = "0123456789abcdef0123456789abcdef"
    event = {"imageId": image_id, "intermediates": [
        {"name": "large", "key": f"work/{image_id}/renditions.raw", "offset": 0, "length": 19, "width": 1, "height": 1},
    ]}  # fmt: skip

    with pytest.raises(PermanentError) as caught:
        watermark_renditions(event, FakeStore(), SETTINGS, OUTPUT)
    assert caught.value.code == "SOURCE_MISSING"


def test_the_renditions_of_an_image_are_read_with_one_get():
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))
    reads: list[str] = []
    real_get = store.get
    store.get = lambda bucket, key, max_bytes: reads.append(key) or real_get(bucket, key, max_bytes)

    watermark_renditions(event, store, SETTINGS, OUTPUT)

    assert reads == ["work/0123456789abcdef0123456789abcdef/renditions.raw"]


def test_an_intermediate_per_object_from_before_the_packing_is_still_read():
    """An execution that resized before a deployment and watermarks after it."""
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))
    packed = store.data(OUTPUT, event["intermediates"][0]["key"])
    for item in event["intermediates"]:
        item["key"] = f"work/0123456789abcdef0123456789abcdef/{item['name']}.raw"
        store.put(OUTPUT, item["key"], packed[item.pop("offset") :][: item.pop("length")], "application/octet-stream")

    old = watermark_renditions(event, store, SETTINGS, OUTPUT)["renditions"]
    _, new_event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))
    assert old == watermark_renditions(new_event, store, SETTINGS, OUTPUT)["renditions"]


def test_a_cut_that_does_not_match_its_intermediate_is_corrupt():
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))
    event["intermediates"][1]["offset"] += 1

    with pytest.raises(PermanentError) as caught:
        watermark_renditions(event, store, SETTINGS, OUTPUT)
    assert caught.value.code == "CORRUPT_IMAGE"


def test_an_intact_part_of_the_wrong_size_is_corrupt():
    store, event = resized(corpus.save(corpus.photo(800, 600), "JPEG"))
    event["intermediates"][0]["width"] -= 1

    with pytest.raises(PermanentError) as caught:
        watermark_renditions(event, store, SETTINGS, OUTPUT)
    assert caught.value.code == "CORRUPT_IMAGE"


def test_an_unknown_rendition_is_a_configuration_error():
    store, event = resized(corpus.save(corpus.photo(300, 200), "JPEG"))
    event["intermediates"][0]["name"] = "gone"

    with pytest.raises(SettingsError):
        watermark_renditions(event, store, SETTINGS, OUTPUT)


def test_rendition_keys_are_deterministic():
    assert rendition_key("abc", "large", "jpg") == "renditions/abc/large.jpg"
