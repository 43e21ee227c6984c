"""Allowed origins as a user sets them: `imgpipe serve --settings '{"cors_allowed_origins": [...]}'`.
A page on an allowed origin may call the API and upload; a page elsewhere gets no CORS headers
(its browser refuses the answers) and its upload preflight is refused, as on AWS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from imgpipe.client import Client
from tests.serve_support import ServeProcess, serving

APP = "http://app.example.test"
DEV = "http://localhost:8080"
ELSEWHERE = "https://elsewhere.example"
SETTINGS = json.dumps({"cors_allowed_origins": [APP, DEV]})


@pytest.fixture(scope="module")
def served() -> Iterator[ServeProcess]:
    with serving("--workers", "1", "--log-level", "WARNING", "--settings", SETTINGS) as server:
        yield server
        assert server.stop() == 0


def call(method: str, url: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def allow_origin(headers: dict[str, str]) -> str | None:
    return headers.get("Access-Control-Allow-Origin")


@pytest.fixture(scope="module")
def upload(served: ServeProcess) -> dict:
    return Client(served.api_url).request_upload("photo.jpg", "image/jpeg", 4)


def test_the_api_answers_an_allowed_page_with_its_origin_and_another_with_none(served: ServeProcess):
    url = f"{served.api_url}/upload-url?filename=a.jpg&contentType=image/jpeg&size=4"
    status, headers = call("GET", url, {"Origin": DEV})
    assert (status, allow_origin(headers), headers.get("Vary")) == (200, DEV, "Origin")
    status, headers = call("GET", url, {"Origin": ELSEWHERE})
    assert status == 200 and allow_origin(headers) is None


def test_the_api_preflight_names_an_allowed_origin_and_never_another(served: ServeProcess):
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}
    for origin in (APP, DEV):
        _, headers = call("OPTIONS", f"{served.api_url}/upload-url", {"Origin": origin, **preflight})
        assert allow_origin(headers) == origin
    _, headers = call("OPTIONS", f"{served.api_url}/upload-url", {"Origin": ELSEWHERE, **preflight})
    assert allow_origin(headers) != ELSEWHERE  # API Gateway's mock answers its first origin


def test_an_api_gateway_error_is_readable_by_an_allowed_page(served: ServeProcess):
    status, headers = call("GET", f"{served.api_url}/no-such-route", {"Origin": DEV})
    assert (status, allow_origin(headers)) == (403, DEV)


def test_the_upload_preflight_passes_for_an_allowed_page_only(served: ServeProcess, upload: dict):
    preflight = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,if-none-match"}
    status, headers = call("OPTIONS", upload["uploadUrl"], {"Origin": APP, **preflight})
    assert (status, allow_origin(headers), headers.get("Access-Control-Allow-Credentials")) == (200, APP, "true")
    status, headers = call("OPTIONS", upload["uploadUrl"], {"Origin": ELSEWHERE, **preflight})
    assert status == 403
    assert not [name for name in headers if name.lower().startswith("access-control-")]


def test_an_upload_from_another_origin_is_stored_but_not_readable_by_its_page(served: ServeProcess):
    """S3 does not refuse a cross-origin request it has no rule for; it answers without CORS
    headers, and the browser keeps the answer from the page."""
    upload = Client(served.api_url).request_upload("other.jpg", "image/jpeg", 4)
    status, headers = call("PUT", upload["uploadUrl"], {**upload["headers"], "Origin": ELSEWHERE}, b"\xff\xd8\xff\xd9")
    assert status == 200 and allow_origin(headers) is None
