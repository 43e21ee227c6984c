"""A minimal client for the pipeline's HTTP contract (docs/openapi.yaml), standard library only.

The CLI, the end-to-end tests and the benchmarks all upload through this, so they exercise the
same path a user's application does: ask for a URL, PUT the bytes, poll the image's status.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from imgpipe.config import COMPLETE, EXPIRED, FAILED


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status}: {error.get('code', '')} {error.get('message', body)}".strip())
        self.status = status
        self.body = body
        self.code = error.get("code")


def _json_body(body: bytes) -> Any:
    """An answer's JSON, or what was answered instead (a gateway's HTML page, say) as ``raw`` text."""
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return {"raw": body.decode(errors="replace")}


@dataclass
class Client:
    api_url: str
    api_key: str | None = None
    timeout: float = 30
    token: str | None = None  # auth "jwt": a Cognito ID token, sent as Authorization: Bearer

    def _call(
        self, method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def auth_headers(self) -> dict[str, str]:
        headers = {"x-api-key": self.api_key} if self.api_key else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def send(self, method: str, path: str, query: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """``method`` on ``path`` of the API, with ``query`` as given and the caller's credentials: the
        status and body exactly as answered (the methods below read them)."""
        url = self.api_url.rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return self._call(method, url, headers=self.auth_headers())

    def get(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET ``path`` of the API with ``query`` as sent: the JSON body, or ApiError unless 200."""
        status, body = self.send("GET", path, query)
        parsed: dict[str, Any] = _json_body(body)
        if status != 200:
            raise ApiError(status, parsed)
        return parsed

    def request_upload(self, filename: str, content_type: str, size: int) -> dict[str, Any]:
        return self.get("/upload-url", {"filename": filename, "contentType": content_type, "size": size})

    def put(self, upload: dict[str, Any], data: bytes) -> None:
        status, body = self._call(
            upload.get("method", "PUT"), upload["uploadUrl"], data, dict(upload.get("headers", {}))
        )
        if status not in (200, 204):
            raise ApiError(status, {"error": {"code": "UPLOAD_FAILED", "message": body.decode(errors="replace")[:500]}})

    def image(self, image_id: str) -> dict[str, Any]:
        return self.get(f"/images/{image_id}")

    def images(self, limit: int | None = None, cursor: str | None = None, status: str | None = None) -> dict[str, Any]:
        """One page of the caller's images, newest first (GET /images): ``items`` and ``nextCursor``."""
        query = {name: value for name, value in (("limit", limit), ("cursor", cursor), ("status", status)) if value}
        return self.get("/images", query or None)

    def delete(self, image_id: str) -> None:
        """DELETE the image: ApiError unless 204 (404 when there is no such image for the caller)."""
        status, body = self.send("DELETE", f"/images/{urllib.parse.quote(image_id, safe='')}")
        if status != 204:
            raise ApiError(status, _json_body(body))

    def upload(self, filename: str, data: bytes, content_type: str) -> str:
        upload = self.request_upload(filename, content_type, len(data))
        self.put(upload, data)
        image_id: str = upload["imageId"]
        return image_id

    def wait(
        self, image_id: str, deadline_s: float = 120, interval_s: float = 0.1, max_interval_s: float = 2.0
    ) -> dict[str, Any]:
        """Poll until the image is COMPLETE, FAILED or EXPIRED, or the deadline passes (TimeoutError).

        The interval grows (x1.5 up to ``max_interval_s``) so a slow image does not spend the
        deployed API's per-key throttle and quota; throttling (429) and 5xx answers are retried."""
        deadline = time.monotonic() + deadline_s
        status = "unknown"
        while True:
            try:
                view = self.image(image_id)
                status = view["status"]
                if status in (COMPLETE, FAILED, EXPIRED):
                    return view
            except ApiError as exc:
                if exc.status != 429 and exc.status < 500:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"image {image_id} still {status} after {deadline_s:.0f} s")
            time.sleep(interval_s)
            interval_s = min(max_interval_s, interval_s * 1.5)

    def download(self, url: str) -> bytes:
        status, body = self._call("GET", url)
        if status != 200:
            raise ApiError(status, {"error": {"code": "DOWNLOAD_FAILED", "message": f"GET {url} returned {status}"}})
        return body
