"""Allowed origins as a user sets them: `imgpipe serve --settings '{"cors_allowed_origins": [...]}'`.
A page on an allowed origin may call the API and upload; a page elsewhere gets no CORS headers
(its browser refuses the answers) and its upload preflight is refused, as on AWS."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from imgpipe.client import Client

APP = "http://app.example.test"
DEV = "http://localhost:8080"
ELSEWHERE = "https://elsewhere.example"
SETTINGS = json.dumps({"cors_allowed_origins": [APP, DEV]})


@dataclass
class Served:
    api_url: str
    aws_endpoint: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    server = subprocess.Popen(
        [sys.executable, "-m", "imgpipe.cli", "serve", "--port", "0", "--aws-port", "0", "--workers", "1",
         "--log-level", "WARNING", "--settings", SETTINGS],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        received: queue.Queue[str] = queue.Queue()
        assert server.stdout is not None
        stdout = server.stdout
        threading.Thread(target=lambda: [received.put(line) for line in stdout], daemon=True).start()
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline and server.poll() is None, "".join(lines)
            with contextlib.suppress(queue.Empty):
                lines.append(received.get(timeout=0.5))
        output = "".join(lines)
        api_url = re.search(r"API\s+(http://\S+)", output)[1]
        aws_endpoint = re.search(r"AWS endpoint\s+(http://\S+)", output)[1]
        yield Served(api_url, aws_endpoint)
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()


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
def upload(served: Served) -> dict:
    return Client(served.api_url).request_upload("photo.jpg", "image/jpeg", 4)


def test_the_api_answers_an_allowed_page_with_its_origin_and_another_with_none(served: Served):
    url = f"{served.api_url}/upload-url?filename=a.jpg&contentType=image/jpeg&size=4"
    status, headers = call("GET", url, {"Origin": DEV})
    assert (status, allow_origin(headers), headers.get("Vary")) == (200, DEV, "Origin")
    status, headers = call("GET", url, {"Origin": ELSEWHERE})
    assert status == 200 and allow_origin(headers) is None


def test_the_api_preflight_names_an_allowed_origin_and_never_another(served: Served):
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key"}
    for origin in (APP, DEV):
        _, headers = call("OPTIONS", f"{served.api_url}/upload-url", {"Origin": origin, **preflight})
        assert allow_origin(headers) == origin
    _, headers = call("OPTIONS", f"{served.api_url}/upload-url", {"Origin": ELSEWHERE, **preflight})
    assert allow_origin(headers) != ELSEWHERE  # API Gateway's mock answers its first origin


def test_an_api_gateway_error_is_readable_by_an_allowed_page(served: Served):
    status, headers = call("GET", f"{served.api_url}/no-such-route", {"Origin": DEV})
    assert (status, allow_origin(headers)) == (403, DEV)


def test_the_upload_preflight_passes_for_an_allowed_page_only(served: Served, upload: dict):
    preflight = {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "content-type,if-none-match"}
    status, headers = call("OPTIONS", upload["uploadUrl"], {"Origin": APP, **preflight})
    assert (status, allow_origin(headers), headers.get("Access-Control-Allow-Credentials")) == (200, APP, "true")
    status, headers = call("OPTIONS", upload["uploadUrl"], {"Origin": ELSEWHERE, **preflight})
    assert status == 403
    assert not [name for name in headers if name.lower().startswith("access-control-")]


def test_an_upload_from_another_origin_is_stored_but_not_readable_by_its_page(served: Served):
    """S3 does not refuse a cross-origin request it has no rule for; it answers without CORS
    headers, and the browser keeps the answer from the page."""
    upload = Client(served.api_url).request_upload("other.jpg", "image/jpeg", 4)
    status, headers = call("PUT", upload["uploadUrl"], {**upload["headers"], "Origin": ELSEWHERE}, b"\xff\xd8\xff\xd9")
    assert status == 200 and allow_origin(headers) is None
