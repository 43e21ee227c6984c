"""Presigned-URL checks that moto skips: SigV4 query signatures and expiry.

moto accepts any presigned URL (one signed for key A accepts a PUT to key B, with any headers).
S3 does not, so a client that works locally could fail on AWS.  This WSGI middleware recomputes
the signature of every presigned request to the emulator, with botocore's own signer and the local
credentials, and answers as S3 does when it does not match or has expired.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_HEADER_ENVIRON = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def _s3_error(start_response: Callable[..., Any], code: str, message: str) -> list[bytes]:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    start_response("403 Forbidden", [("Content-Type", "application/xml")])
    return [body.encode()]


def check(environ: dict[str, Any], secret_key: str, now: datetime.datetime | None = None) -> tuple[str, str] | None:
    """None if the request is not presigned or its signature holds; else (S3 error code, message)."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in params:
        return None
    try:
        access_key, _date, region, service, _ = params["X-Amz-Credential"].split("/")
        signed_at = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        expires = int(params["X-Amz-Expires"])
        signed_headers = params["X-Amz-SignedHeaders"].split(";")
    except (KeyError, ValueError):
        return "AuthorizationQueryParametersError", "the presigned URL's X-Amz parameters are malformed"
    now = now or datetime.datetime.now(datetime.UTC)
    if now > signed_at + datetime.timedelta(seconds=expires):
        return "AccessDenied", "Request has expired"

    headers = {}
    for name in signed_headers:
        key = _HEADER_ENVIRON.get(name) or "HTTP_" + name.upper().replace("-", "_")
        value = environ.get(key)
        if value is None:
            return "SignatureDoesNotMatch", f"the signed header {name} was not sent"
        headers[name] = value
    unsigned_query = urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"], quote_via=quote)
    url = f"http://{environ.get('HTTP_HOST', '')}{quote(environ.get('PATH_INFO', ''))}?{unsigned_query}"
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers)
    request.context["timestamp"] = params["X-Amz-Date"]
    signer = S3SigV4QueryAuth(
        Credentials(access_key, secret_key, params.get("X-Amz-Security-Token")), service, region, expires=expires
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if expected != params["X-Amz-Signature"]:
        return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
    return None


def guard(app: Callable[..., Any], secret_key: str) -> Callable[..., Any]:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        refused = check(environ, secret_key)
        if refused:
            return _s3_error(start_response, *refused)
        return app(environ, start_response)

    return guarded
