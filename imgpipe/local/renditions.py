"""Delivery ``cdn``, locally: the stable rendition URLs CloudFront serves on AWS, on the API port.

``GET|HEAD /renditions/<imageId>/<name>.<ext>`` reads the local output bucket and answers as the
distribution of ``stacks/delivery.py`` does: the object's ``Content-Type``, ``Cache-Control``,
``ETag`` and ``Last-Modified``; the response headers policy's ``X-Content-Type-Options: nosniff``
and CORS; ``304`` to a matching ``If-None-Match``.  A key that does not exist (never made, or
deleted) answers ``403 AccessDenied``: the distribution may read ``renditions/*`` but not list the
bucket, so S3 does not tell it "no such key" (docs/decisions.md, "Renditions behind CloudFront").

Like the upload page, this is answered in front of the API Gateway twin: on AWS these URLs belong
to CloudFront, not to the API, and need no API key or token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from imgpipe.config import RENDITION_PREFIX
from imgpipe.topology import (
    RENDITION_CONTENT_TYPE_OPTIONS,
    RENDITION_CORS_ALLOW_METHODS,
    RENDITION_CORS_ALLOW_ORIGIN,
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATH_PREFIX = "/" + RENDITION_PREFIX
# What the watermark step writes: renditions/<image id>/<rendition name>.<extension>.
RENDITION_KEY = re.compile(re.escape(RENDITION_PREFIX) + r"[0-9a-f]{32}/[A-Za-z_][A-Za-z0-9_]*\.[a-z0-9]{2,5}")
# S3's answer to a principal that may GetObject but not ListBucket, passed on by CloudFront.
ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
)
METHOD_NOT_ALLOWED = (
    "This distribution is not configured to allow the HTTP request method that was used for this request."
)


def _edge_headers(request: Request) -> dict[str, str]:
    headers = {"X-Content-Type-Options": RENDITION_CONTENT_TYPE_OPTIONS}
    if request.headers.get("Origin"):  # the CORS headers answer cross-origin requests only
        headers["Access-Control-Allow-Origin"] = RENDITION_CORS_ALLOW_ORIGIN
        headers["Access-Control-Allow-Methods"] = ",".join(RENDITION_CORS_ALLOW_METHODS)
    return headers


def serve_rendition(request: Request, s3: Any, bucket: str) -> Response:
    if request.method not in RENDITION_CORS_ALLOW_METHODS:
        return Response(METHOD_NOT_ALLOWED, status=403, content_type="text/plain")
    key = request.path.lstrip("/")
    if not RENDITION_KEY.fullmatch(key):  # never hand moto a path with "..", "//" or another prefix
        return Response(ACCESS_DENIED, status=403, content_type="application/xml", headers=_edge_headers(request))
    try:
        if request.method == "HEAD":
            head, body = s3.head_object(Bucket=bucket, Key=key), b""
        else:
            head = s3.get_object(Bucket=bucket, Key=key)
            body = head["Body"].read()
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return Response(ACCESS_DENIED, status=403, content_type="application/xml", headers=_edge_headers(request))
        return Response("origin error", status=502, content_type="text/plain")
    etag = head["ETag"]
    headers = {
        **_edge_headers(request),
        "ETag": etag,
        "Last-Modified": http_date(head["LastModified"]),
    }
    if head.get("CacheControl"):
        headers["Cache-Control"] = head["CacheControl"]
    if request.if_none_match.contains(etag.strip('"')) or request.if_none_match.star_tag:
        return Response(status=304, headers=headers)
    response = Response(body, status=200, content_type=head.get("ContentType", "binary/octet-stream"), headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(head["ContentLength"])
    return response


def with_renditions(app: WSGIApp, s3: Any, bucket: str) -> WSGIApp:
    """``app`` with ``/renditions/...`` answered from ``bucket`` first."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(PATH_PREFIX):
            return app(environ, start_response)
        response: Iterable[bytes] = serve_rendition(Request(environ), s3, bucket)(environ, start_response)
        return response

    return middleware
