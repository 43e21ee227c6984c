"""The local S3 holds presigned URLs to what they sign, as S3 does (moto alone accepts anything)."""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request

import pytest

from imgpipe.client import Client
from imgpipe.local import s3_access


def put(url: str, data: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert "<Code>" in body
        return exc.code


@pytest.fixture
def upload(client: Client, photo: bytes) -> dict:
    return client.request_upload("signed.jpg", "image/jpeg", len(photo))


def test_a_put_to_another_key_with_the_same_signature_is_refused(upload: dict, photo: bytes):
    other = upload["uploadUrl"].replace("/signed.jpg?", "/other.jpg?")
    assert put(other, photo, upload["headers"]) == 403


def test_a_put_with_another_content_type_is_refused(upload: dict, photo: bytes):
    assert put(upload["uploadUrl"], photo, {**upload["headers"], "Content-Type": "image/png"}) == 403


def test_a_put_without_the_write_once_header_is_refused(upload: dict, photo: bytes):
    assert put(upload["uploadUrl"], photo, {"Content-Type": "image/jpeg"}) == 403


def test_a_put_of_another_length_is_refused(upload: dict, photo: bytes):
    assert put(upload["uploadUrl"], photo + b"\0", upload["headers"]) == 403


def test_a_tampered_signature_is_refused(upload: dict, photo: bytes):
    url = upload["uploadUrl"]
    signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert put(tampered, photo, upload["headers"]) == 403


def test_the_signed_put_is_accepted(upload: dict, photo: bytes):
    assert put(upload["uploadUrl"], photo, upload["headers"]) == 200


def test_an_expired_url_is_refused(upload: dict, photo: bytes):
    from urllib.parse import urlsplit

    parts = urlsplit(upload["uploadUrl"])
    environ = {
        "REQUEST_METHOD": "PUT", "HTTP_HOST": parts.netloc, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
        "CONTENT_TYPE": "image/jpeg", "CONTENT_LENGTH": str(len(photo)), "HTTP_IF_NONE_MATCH": "*",
    }  # fmt: skip
    assert s3_access.check_presigned(environ, "test") is None
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=upload["expiresIn"] + 1)
    refusal = s3_access.check_presigned(environ, "test", now=later)
    assert (refusal.status, refusal.code, refusal.message) == (403, "AccessDenied", "Request has expired")


def options(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, method="OPTIONS", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_a_browser_preflight_for_the_upload_is_answered_from_the_bucket_cors_without_a_signature(upload: dict):
    status, headers, _ = options(
        upload["uploadUrl"].split("?")[0],  # browsers send the URL as is; S3 ignores the signature here anyway
        {
            "Origin": "http://page.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type,if-none-match",
        },
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] in ("*", "http://page.example")
    assert "PUT" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "content-type, if-none-match"
