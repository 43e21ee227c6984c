"""Delivery "cdn", locally: stable unsigned rendition URLs on the API port, with CloudFront's headers."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

import pytest

from imgpipe.client import Client
from imgpipe.config import RENDITION_CACHE_CONTROL
from imgpipe.local.pipeline import LocalPipeline


def fetch(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.fixture(scope="module")
def done(client: Client, photo: bytes) -> dict[str, Any]:
    image_id = client.upload("cdn.jpg", photo, "image/jpeg")
    view = client.wait(image_id, deadline_s=60)
    assert view["status"] == "COMPLETE", view
    return view


def test_rendition_urls_are_unsigned_stable_paths_on_the_api_port(stack: LocalPipeline, done: dict[str, Any]):
    for rendition in done["renditions"]:
        url = urlparse(rendition["url"])
        assert f"{url.scheme}://{url.netloc}" == stack.renditions_base_url
        assert url.path == f"/{rendition['key']}" == f"/renditions/{done['imageId']}/{rendition['name']}.jpg"
        assert url.query == "" and "expiresAt" not in rendition


def test_rendition_urls_are_identical_on_every_read(client: Client, done: dict[str, Any]):
    again = client.image(done["imageId"])
    assert [r["url"] for r in again["renditions"]] == [r["url"] for r in done["renditions"]]


def test_a_rendition_url_serves_the_image_with_cloudfronts_headers(done: dict[str, Any]):
    large = done["renditions"][0]
    status, headers, body = fetch(large["url"])
    assert status == 200
    assert body[:3] == b"\xff\xd8\xff" and len(body) == large["bytes"]
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == RENDITION_CACHE_CONTROL == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["ETag"].startswith('"') and headers["Last-Modified"]
    assert "Access-Control-Allow-Origin" not in headers  # CORS answers cross-origin requests only
    _, cross_origin, _ = fetch(large["url"], headers={"Origin": "https://shop.example"})
    assert cross_origin["Access-Control-Allow-Origin"] == "*"


def test_a_rendition_needs_no_api_key_or_token(stack: LocalPipeline, done: dict[str, Any]):
    # Public by URL, as behind CloudFront: the API's key (or token) guards the API, not the images.
    status, _, _ = fetch(done["renditions"][-1]["url"], headers={"x-api-key": "wrong"})
    assert status == 200


def test_a_cached_copy_is_revalidated_with_304_and_head_has_no_body(done: dict[str, Any]):
    url = done["renditions"][1]["url"]
    _, headers, body = fetch(url)
    status, _, again = fetch(url, headers={"If-None-Match": headers["ETag"]})
    assert (status, again) == (304, b"")
    status, head, empty = fetch(url, method="HEAD")
    assert (status, empty) == (200, b"")
    assert head["Content-Length"] == str(len(body)) and head["ETag"] == headers["ETag"]


def test_a_missing_rendition_answers_403_access_denied_like_s3_behind_cloudfront(stack: LocalPipeline):
    status, headers, body = fetch(f"{stack.renditions_base_url}/renditions/{'0' * 32}/large.jpg")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_only_get_and_head_are_served(done: dict[str, Any]):
    status, _, _ = fetch(done["renditions"][0]["url"], method="DELETE")
    assert status == 403
    assert fetch(done["renditions"][0]["url"])[0] == 200  # still there


def test_a_deleted_images_rendition_urls_stop_serving(client: Client, photo: bytes):
    image_id = client.upload("gone.jpg", photo, "image/jpeg")
    view = client.wait(image_id, deadline_s=60)
    urls = [r["url"] for r in view["renditions"]]
    assert all(fetch(url)[0] == 200 for url in urls)
    request = urllib.request.Request(f"{client.api_url}/images/{image_id}", method="DELETE")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204
    assert [fetch(url)[0] for url in urls] == [403] * len(urls)
