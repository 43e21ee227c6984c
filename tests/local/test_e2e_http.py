"""End to end over real HTTP, as a user's application (or curl) does it: ask for an upload URL,
PUT the bytes with a plain HTTP client, poll the image until it is done, fetch a rendition."""

from __future__ import annotations

import io
import urllib.request

import pytest
from PIL import Image

from imgpipe.client import ApiError, Client
from imgpipe.config import API_ROUTES, DEFAULT_RENDITIONS


def test_photo_goes_from_upload_url_to_complete_with_downloadable_renditions(client: Client, photo: bytes):
    upload = client.request_upload("holiday photo.JPG", "image/jpeg", len(photo))
    assert upload["method"] == "PUT"
    assert upload["key"] == f"uploads/{upload['imageId']}/holiday_photo.JPG"
    assert client.image(upload["imageId"])["status"] == "AWAITING_UPLOAD"

    request = urllib.request.Request(upload["uploadUrl"], data=photo, method="PUT", headers=upload["headers"])
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    view = client.wait(upload["imageId"], deadline_s=60)
    assert view["status"] == "COMPLETE", view
    assert view["original"]["format"] == "JPEG"
    assert (view["original"]["width"], view["original"]["height"]) == (1800, 1200)
    assert [r["name"] for r in view["renditions"]] == [r.name for r in DEFAULT_RENDITIONS]
    large = view["renditions"][0]
    assert (large["width"], large["height"]) == (1600, 1067)
    with urllib.request.urlopen(large["url"], timeout=10) as response:
        rendition = Image.open(io.BytesIO(response.read()))
        assert rendition.format == "JPEG"
        assert rendition.size == (1600, 1067)


def test_non_image_upload_ends_failed_with_a_clear_code(client: Client):
    image_id = client.upload("notes.jpg", b"these are my shopping notes, not a picture\n" * 20, "image/jpeg")
    view = client.wait(image_id, deadline_s=60)
    assert view["status"] == "FAILED"
    assert view["error"]["code"] == "NOT_AN_IMAGE"
    assert "not an image" in view["error"]["message"]
    assert "renditions" not in view


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"filename": "a.svg", "contentType": "image/svg+xml", "size": 10}, "UNSUPPORTED_CONTENT_TYPE"),
        ({"filename": "a.jpg", "contentType": "image/jpeg"}, "INVALID_REQUEST"),
        ({"contentType": "image/jpeg", "size": 10}, "INVALID_REQUEST"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": "-5"}, "INVALID_SIZE"),
        ({"filename": "a.jpg", "contentType": "image/jpeg", "size": 10**10}, "IMAGE_TOO_LARGE"),
        ({"filename": "", "contentType": "image/jpeg", "size": 10}, "INVALID_FILENAME"),
        ({"filename": "...", "contentType": "image/jpeg", "size": 10}, "INVALID_FILENAME"),
    ],
)
def test_bad_upload_requests_get_400_with_an_error_code(client: Client, query: dict, code: str):
    with pytest.raises(ApiError) as raised:
        client.get("/upload-url", query)
    assert raised.value.status == 400
    assert raised.value.code == code


def test_unknown_image_is_404(client: Client):
    for image_id in ("0" * 32, "not-an-id"):
        with pytest.raises(ApiError) as raised:
            client.image(image_id)
        assert raised.value.status == 404
        assert raised.value.code == "IMAGE_NOT_FOUND"


def test_unknown_route_is_403_like_api_gateway(stack):
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{stack.api_url}/nope", timeout=5)
    assert raised.value.code == 403


def test_cors_preflight_allows_browser_clients(stack):
    request = urllib.request.Request(
        f"{stack.api_url}/upload-url",
        method="OPTIONS",
        headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        # Every method of the API's routes, and the headers its clients send.
        allowed_methods = set(response.headers["Access-Control-Allow-Methods"].split(","))
        assert allowed_methods == {route.method for route in API_ROUTES} | {"OPTIONS"}
        assert {"Content-Type", "X-Api-Key"} <= set(response.headers["Access-Control-Allow-Headers"].split(","))


def test_an_upload_url_writes_once(client: Client, photo: bytes):
    """Keys are write-once (If-None-Match: *): reusing a URL cannot swap the bytes of an image."""
    upload = client.request_upload("once.jpg", "image/jpeg", len(photo))
    assert upload["headers"]["If-None-Match"] == "*"
    client.put(upload, photo)
    first = client.wait(upload["imageId"])
    assert first["status"] == "COMPLETE"
    with pytest.raises(ApiError) as raised:
        client.put(upload, photo)
    assert raised.value.status == 412
    assert client.image(upload["imageId"])["original"]["sha256"] == first["original"]["sha256"]
