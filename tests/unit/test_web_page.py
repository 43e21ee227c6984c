"""The upload page is served by the local server in front of the API Gateway twin, and only there."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from imgpipe import config
from imgpipe.local import web
from imgpipe.paths import checkout_root

ROOT = checkout_root()


@Request.application
def fake_gateway(request: Request) -> Response:
    """Stands in for the API Gateway twin: says which request reached it."""
    return Response(json.dumps({"gateway": request.method + " " + request.path}), status=403)


client = Client(web.with_web_page(fake_gateway))


def test_root_is_the_page_with_a_strict_content_security_policy() -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert b'<script src="web/app.js" defer></script>' in response.data
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"  # presigned URLs stay out of Referer


def test_each_asset_is_served_with_its_type() -> None:
    assert web.asset_names() == ["app.js", "index.html", "style.css"]
    for name, content_type in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        response = client.get(f"/web/{name}")
        assert response.status_code == 200
        assert response.content_type.startswith(content_type)
        assert response.data == (ROOT / "imgpipe" / "local" / "web" / name).read_bytes()


def test_head_answers_the_length_without_a_body() -> None:
    response = client.head("/web/app.js")
    assert response.status_code == 200
    assert response.data == b""
    assert int(response.headers["Content-Length"]) == len(client.get("/web/app.js").data)


def test_everything_else_reaches_the_gateway() -> None:
    for method, path in [
        ("GET", "/upload-url"),
        ("GET", "/images/0123"),
        ("POST", "/"),
        ("OPTIONS", "/"),
        ("GET", "/web/"),
        ("GET", "/web/nope.js"),
        ("GET", "/web/../imgpipe/config.py"),
        ("GET", "/web/__init__.py"),
        ("GET", "/index.html"),
    ]:
        response = client.open(path, method=method)
        assert response.status_code == 403, (method, path)
        assert json.loads(response.data)["gateway"].startswith(method), (method, path)


def test_no_api_route_is_shadowed_by_the_page() -> None:
    for route in config.API_ROUTES:
        assert web.asset_name(route.resource) is None
        assert not route.resource.startswith(web.ASSET_PREFIX)


def test_the_page_ships_with_the_package() -> None:
    """An installed imgpipe (not only this checkout) has the page: it is package data."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = package_data["imgpipe.local.web"]
    for name in web.asset_names():
        assert any(Path(name).match(pattern) for pattern in patterns), name
