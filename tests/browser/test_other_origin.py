"""A page on another origin does the raw upload flow with ``fetch`` against ``imgpipe serve``.

The page, the API and the bucket are three origins (three ports), as a web app, API Gateway and S3
would be: every call is cross-origin, and the PUT carries headers that are not CORS-safelisted
(``Content-Type: image/jpeg``, ``If-None-Match``), so Chromium sends a preflight first and only
sends the PUT if the bucket's answer allows it.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

from .support import RESULT_DEADLINE_MS, Served, jpeg_bytes, require_chromium

require_chromium()  # or skip this module
pytestmark = pytest.mark.xdist_group("browser")  # one worker: one Chromium, one set of stacks

RAW_FLOW = "([api, key, data, deadline]) => rawFlow(api, key, data, deadline)"


def run_raw_flow(page: Any, other_origin: str, api_url: str, api_key: str | None) -> dict[str, Any]:
    page.goto(other_origin + "/index.html")
    data = base64.b64encode(jpeg_bytes()).decode()
    result: dict[str, Any] = page.evaluate(RAW_FLOW, [api_url, api_key, data, RESULT_DEADLINE_MS])
    return result


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_a_page_on_another_origin_uploads_with_fetch_and_loads_a_rendition(
    page: Any, served: Served, other_origin: str
) -> None:
    result = run_raw_flow(page, other_origin, served.api_url, None)

    assert result["step"] == "done", result  # a refused preflight ends the flow at "put"
    assert result["putStatus"] == 200
    assert result["image"]["status"] == "COMPLETE"
    assert [result["naturalWidth"], result["naturalHeight"]] == [
        result["rendition"]["width"],
        result["rendition"]["height"],
    ]
    assert len({origin(other_origin), origin(served.api_url), origin(result["uploadUrl"])}) == 3


def test_the_same_page_against_a_stack_that_requires_an_api_key(
    page: Any, served_with_key: Served, other_origin: str
) -> None:
    without_key = run_raw_flow(page, other_origin, served_with_key.api_url, None)
    # API Gateway's own 403 carries CORS headers, so the page can read why it was refused.
    assert without_key == {"step": "upload-url", "status": 403, "body": {"message": "Forbidden"}}

    result = run_raw_flow(page, other_origin, served_with_key.api_url, served_with_key.api_key)

    assert result["step"] == "done", result
    assert result["image"]["status"] == "COMPLETE"
    assert result["naturalWidth"] == result["rendition"]["width"] > 0
