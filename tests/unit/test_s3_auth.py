"""The local S3's authentication (imgpipe.local.s3_access), request by request, with requests signed
by botocore itself: what S3 lets in and how it refuses the rest."""

from __future__ import annotations

import datetime
from urllib.parse import quote, unquote_to_bytes, urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from imgpipe.local.s3_access import authenticate

HOST = "127.0.0.1:4566"
KEY = "uploads/0123/photo.jpg"


def environ_for(method: str, url: str, headers: dict[str, str]) -> dict:
    """What a WSGI server hands the guard for this request (PEP 3333: the path decoded, as latin-1)."""
    parts = urlsplit(url)
    environ = {
        "REQUEST_METHOD": method,
        "HTTP_HOST": parts.netloc,
        "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
        "QUERY_STRING": parts.query,
    }
    for name, value in headers.items():
        key = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}.get(name.lower())
        environ[key or "HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def presigned_put(key: str = KEY, expires: int = 300, credentials: tuple[str, str] = ("test", "test")) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{HOST}",
        region_name="us-east-1",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        config=Config(signature_version="s3v4"),
    )
    return s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": "imgpipe-input", "Key": key, "ContentType": "image/jpeg", "IfNoneMatch": "*"},
        ExpiresIn=expires,
    )


UPLOAD_HEADERS = {"Content-Type": "image/jpeg", "If-None-Match": "*"}


def signed_now() -> datetime.datetime:
    """The clock the requests above were just signed with (not the module's import time: under load a
    test may run minutes after collection, and a URL signed then is not yet expired at import + 2 min)."""
    return datetime.datetime.now(datetime.UTC)


def header_signed(method: str = "GET", extra: dict[str, str] | None = None, secret: str = "anything") -> dict:
    """A request signed as boto3 and the AWS CLI sign it, with any credentials."""
    request = AWSRequest(method=method, url=f"http://{HOST}/imgpipe-output/renditions/a/large.jpg", headers=extra or {})
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    S3SigV4Auth(Credentials("AKIAEXAMPLE", secret), "s3", "us-east-1").add_auth(request)
    return environ_for(method, request.url, dict(request.headers.items()))


# ---- presigned URLs --------------------------------------------------------------------------------
def test_a_presigned_put_with_the_signed_headers_is_let_in():
    assert authenticate(environ_for("PUT", presigned_put(), UPLOAD_HEADERS), "test") is None


@pytest.mark.parametrize("name", ["猫の写真.jpg", "صورة-قطة.jpg", "🐱 cat~1.jpg", "a+b=c&d.jpg"])
def test_a_presigned_url_for_a_unicode_or_reserved_key_verifies(name: str):
    # boto3 percent-encodes the UTF-8 key; the guard must rebuild the same canonical path from the
    # decoded path the server hands it.
    url = presigned_put(f"uploads/0123/{name}")
    assert quote(name.encode(), safe="~") in url
    assert authenticate(environ_for("PUT", url, UPLOAD_HEADERS), "test") is None


def test_a_presigned_url_signed_with_another_secret_does_not_verify():
    refusal = authenticate(environ_for("PUT", presigned_put(credentials=("test", "other")), UPLOAD_HEADERS), "test")
    assert refusal is not None and (refusal.status, refusal.code) == (403, "SignatureDoesNotMatch")


def without(url: str, parameter: str) -> str:
    base, query = url.split("?", 1)
    return base + "?" + "&".join(p for p in query.split("&") if not p.startswith(parameter + "="))


def test_a_query_without_its_signature_is_a_malformed_presigned_url():
    refusal = authenticate(environ_for("PUT", without(presigned_put(), "X-Amz-Signature"), UPLOAD_HEADERS), "test")
    assert refusal is not None and (refusal.status, refusal.code) == (400, "AuthorizationQueryParametersError")


def test_a_query_without_its_algorithm_is_anonymous_and_denied():
    refusal = authenticate(environ_for("PUT", without(presigned_put(), "X-Amz-Algorithm"), UPLOAD_HEADERS), "test")
    assert refusal is not None and (refusal.status, refusal.code, refusal.message) == (
        403,
        "AccessDenied",
        "Access Denied",
    )


def test_an_expired_presigned_url_is_denied():
    environ = environ_for("PUT", presigned_put(expires=60), UPLOAD_HEADERS)
    refusal = authenticate(environ, "test", now=signed_now() + datetime.timedelta(seconds=120))
    assert refusal is not None and (refusal.status, refusal.message) == (403, "Request has expired")


@pytest.mark.parametrize("header", ["x-amz-acl", "x-amz-meta-owner", "X-Amz-Storage-Class"])
def test_an_x_amz_header_the_url_did_not_sign_is_denied(header: str):
    environ = environ_for("PUT", presigned_put(), {**UPLOAD_HEADERS, header: "public-read"})
    refusal = authenticate(environ, "test")
    assert refusal is not None
    assert (refusal.status, refusal.code) == (403, "AccessDenied")
    assert refusal.message == "There were headers present in the request which were not signed"
    assert refusal.details == {"HeadersNotSigned": header.lower()}


def test_a_presigned_url_and_an_authorization_header_together_are_refused():
    environ = environ_for("PUT", presigned_put(), {**UPLOAD_HEADERS, "Authorization": "AWS4-HMAC-SHA256 x"})
    refusal = authenticate(environ, "test")
    assert refusal is not None and (refusal.status, refusal.code) == (400, "InvalidArgument")


# ---- Authorization headers -------------------------------------------------------------------------
def test_a_request_signed_by_botocore_with_any_credentials_is_let_in():
    assert authenticate(header_signed(), "test") is None
    assert authenticate(header_signed("PUT", {"x-amz-meta-owner": "me", "Content-Type": "image/jpeg"}), "test") is None


def test_an_anonymous_request_is_denied():
    refusal = authenticate(environ_for("GET", f"http://{HOST}/imgpipe-input/{KEY}", {}), "test")
    assert refusal is not None and (refusal.status, refusal.code) == (403, "AccessDenied")


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        ("Bearer abc", 400, "InvalidArgument"),
        ("AWS AKIAEXAMPLE:c2lnbmF0dXJl", 400, "InvalidRequest"),  # SigV2: S3 wants SigV4
        ("AWS4-HMAC-SHA256 made-up", 400, "AuthorizationHeaderMalformed"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20250101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            400,
            "AuthorizationHeaderMalformed",
        ),  # scoped to another service
    ],
)
def test_a_made_up_authorization_header_is_refused(authorization: str, status: int, code: str):
    environ = header_signed()
    environ["HTTP_AUTHORIZATION"] = authorization
    refusal = authenticate(environ, "test")
    assert refusal is not None and (refusal.status, refusal.code) == (status, code)


def test_a_signed_request_with_an_unsigned_x_amz_header_added_is_denied():
    environ = header_signed("PUT")
    environ["HTTP_X_AMZ_ACL"] = "public-read"
    refusal = authenticate(environ, "test")
    assert refusal is not None and refusal.details == {"HeadersNotSigned": "x-amz-acl"}


def test_a_signed_request_missing_a_header_it_signed_does_not_match():
    environ = header_signed("PUT", {"x-amz-meta-owner": "me"})
    del environ["HTTP_X_AMZ_META_OWNER"]
    refusal = authenticate(environ, "test")
    assert refusal is not None and (refusal.status, refusal.code) == (403, "SignatureDoesNotMatch")


def test_a_signed_request_from_too_long_ago_is_refused_like_s3_refuses_a_skewed_clock():
    refusal = authenticate(header_signed(), "test", now=signed_now() + datetime.timedelta(minutes=16))
    assert refusal is not None and (refusal.status, refusal.code) == (403, "RequestTimeTooSkewed")


def test_a_signed_request_without_its_date_or_payload_hash_is_refused():
    no_date = header_signed()
    del no_date["HTTP_X_AMZ_DATE"]
    assert authenticate(no_date, "test").code == "AccessDenied"
    no_hash = header_signed()
    del no_hash["HTTP_X_AMZ_CONTENT_SHA256"]
    assert authenticate(no_hash, "test").code == "InvalidRequest"
