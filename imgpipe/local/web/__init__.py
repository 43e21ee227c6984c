"""The upload page that ``imgpipe serve`` shows at ``/``: static HTML, CSS and JavaScript, no build step.

The page is a client of the public HTTP API (docs/openapi.yaml) and of the presigned URLs it hands
out, nothing else, so it works against a deployed stack too (its "API URL" field).  Serving it is a
convenience of the local server, not part of the emulated API: API Gateway has no ``/`` here, so
``with_web_page`` answers ``GET /`` and ``GET /web/<asset>`` itself, before the request reaches the
API Gateway twin, and passes every other request through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from werkzeug.wrappers import Request, Response

ASSET_PREFIX = "/web/"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
# The page talks to whatever API URL the user types and to presigned S3 URLs (uploads, renditions),
# so connect-src and img-src stay open; its own code and styles come only from this server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src *; img-src * blob: data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # presigned URLs must not leak through the Referer header
    "Cache-Control": "no-cache",
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def asset_names() -> list[str]:
    """The files the page is made of (shipped as package data next to this module)."""
    folder = resources.files(__name__)
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(tuple(CONTENT_TYPES)))


def asset_name(path: str) -> str | None:
    """The page's file for a URL path, or None if the path is not the page's."""
    if path == "/":
        return INDEX
    if path.startswith(ASSET_PREFIX) and path[len(ASSET_PREFIX) :] in asset_names():
        return path[len(ASSET_PREFIX) :]
    return None


def asset_response(name: str, method: str) -> Response:
    body = resources.files(__name__).joinpath(name).read_bytes()
    suffix = name[name.rindex(".") :]
    response = Response(b"" if method == "HEAD" else body, content_type=CONTENT_TYPES[suffix])
    response.headers.update(SECURITY_HEADERS)
    if method == "HEAD":
        response.content_length = len(body)
    return response


def with_web_page(api: WsgiApp) -> WsgiApp:
    """``api`` with the page in front of it: ``GET /`` and ``GET /web/<asset>`` answered here."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        name = asset_name(request.path) if request.method in ("GET", "HEAD") else None
        if name is None:
            return api(environ, start_response)
        response: Iterable[bytes] = asset_response(name, request.method)(environ, start_response)
        return response

    return app
