"""The local S3 lets in what S3 lets in and refuses the rest as S3 does (moto alone accepts anything):
presigned URLs hold to what they sign, the pipeline's buckets are private, and browsers get the CORS
answers of the buckets' rules."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config

from imgpipe.client import Client
from imgpipe.config import AWAITING_UPLOAD, COMPLETE
from imgpipe.history import local_history
from imgpipe.local.pipeline import LocalPipeline
from tests.local.conftest import poll

PAGE = "http://page.example"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def code(self) -> str | None:
        found = re.search(r"<Code>([^<]+)</Code>", self.body)
        return found[1] if found else None

    @property
    def cors(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k.lower().startswith("access-control-")}


def call(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, dict(response.headers), response.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read().decode(errors="replace"))


@pytest.fixture
def upload(client: Client, photo: bytes) -> dict:
    return client.request_upload("signed.jpg", "image/jpeg", len(photo))


def bare(url: str) -> str:
    return url.split("?", 1)[0]


def without(url: str, parameter: str) -> str:
    base, query = url.split("?", 1)
    return base + "?" + "&".join(p for p in query.split("&") if not p.startswith(parameter + "="))


# ---- presigned URLs hold to what they sign -----------------------------------------------------------
def test_the_signed_put_is_accepted(upload: dict, photo: bytes):
    assert call("PUT", upload["uploadUrl"], photo, upload["headers"]).status == 200


def test_a_put_to_another_key_with_the_same_signature_is_refused(upload: dict, photo: bytes):
    other = upload["uploadUrl"].replace("/signed.jpg?", "/other.jpg?")
    assert call("PUT", other, photo, upload["headers"]).code == "SignatureDoesNotMatch"


def test_a_put_with_another_content_type_is_refused(upload: dict, photo: bytes):
    answer = call("PUT", upload["uploadUrl"], photo, {**upload["headers"], "Content-Type": "image/png"})
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch")


def test_a_put_without_the_write_once_header_is_refused(upload: dict, photo: bytes):
    assert call("PUT", upload["uploadUrl"], photo, {"Content-Type": "image/jpeg"}).status == 403


def test_a_put_of_another_length_is_refused(upload: dict, photo: bytes):
    assert call("PUT", upload["uploadUrl"], photo + b"\0", upload["headers"]).status == 403


def test_a_tampered_signature_is_refused(upload: dict, photo: bytes):
    url = upload["uploadUrl"]
    signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
    tampered = url.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    assert call("PUT", tampered, photo, upload["headers"]).code == "SignatureDoesNotMatch"


# Each a way around the signature that moto alone lets through; S3's status and code for each.
REFUSED_PUTS = {
    "unsigned (query removed)": (bare, {}, 403, "AccessDenied"),
    "X-Amz-Signature removed": (
        lambda url: without(url, "X-Amz-Signature"),
        {},
        400,
        "AuthorizationQueryParametersError",
    ),
    "X-Amz-Algorithm removed": (lambda url: without(url, "X-Amz-Algorithm"), {}, 403, "AccessDenied"),
    "made-up Authorization header": (
        bare,
        {
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAFAKE/20250101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=" + "0" * 64
        },
        403,
        "AccessDenied",  # no x-amz-date: S3 cannot even date the request
    ),
    "bearer token": (bare, {"Authorization": "Bearer abc"}, 400, "InvalidArgument"),
    "unsigned x-amz-acl": (lambda url: url, {"x-amz-acl": "public-read"}, 403, "AccessDenied"),
    "unsigned x-amz-meta-*": (lambda url: url, {"x-amz-meta-owner": "someone"}, 403, "AccessDenied"),
}


@pytest.mark.parametrize("way", REFUSED_PUTS)
def test_a_put_around_the_signature_is_refused_as_s3_refuses_it(upload: dict, photo: bytes, way: str):
    change_url, extra_headers, status, code = REFUSED_PUTS[way]
    answer = call("PUT", change_url(upload["uploadUrl"]), photo, {**upload["headers"], **extra_headers})
    assert (answer.status, answer.code) == (status, code), answer.body
    if "x-amz-" in str(extra_headers):
        assert f"<HeadersNotSigned>{next(iter(extra_headers))}</HeadersNotSigned>" in answer.body


def test_refused_puts_store_nothing_and_the_image_stays_awaiting_upload(
    stack: LocalPipeline, client: Client, photo: bytes
):
    upload = client.request_upload("refused.jpg", "image/jpeg", len(photo))
    for way, (change_url, extra_headers, status, _) in REFUSED_PUTS.items():
        answer = call("PUT", change_url(upload["uploadUrl"]), photo, {**upload["headers"], **extra_headers})
        assert answer.status == status, way
    view = client.image(upload["imageId"])
    assert view["status"] == AWAITING_UPLOAD
    assert "executionId" not in view
    s3 = stack.client("s3")
    assert s3.list_objects_v2(Bucket=stack.names.input_bucket, Prefix=upload["key"])["KeyCount"] == 0
    # The key is write-once: the real upload is accepted only because no refused PUT wrote it.
    assert call("PUT", upload["uploadUrl"], photo, upload["headers"]).status == 200
    assert client.wait(upload["imageId"])["status"] == COMPLETE
    executions = local_history(stack.client("stepfunctions"), stack.names.state_machine_arn, upload["imageId"])
    assert len(executions) == 1


def sigv4_client(stack: LocalPipeline, access_key: str = "test", secret_key: str = "test") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(signature_version="s3v4"),
    )


def test_a_sigv2_presigned_url_is_refused_as_s3_refuses_it(stack: LocalPipeline):
    legacy = stack.client("s3").generate_presigned_url(  # botocore signs SigV2 unless told "s3v4"
        "get_object", Params={"Bucket": stack.names.input_bucket, "Key": "uploads/x/a.jpg"}
    )
    assert "AWSAccessKeyId=" in legacy
    assert (call("GET", legacy).status, call("GET", legacy).code) == (400, "InvalidRequest")


def test_an_expired_url_is_refused(stack: LocalPipeline, photo: bytes):
    s3 = sigv4_client(stack)
    key = "uploads/0123456789abcdef0123456789abcdef/expired.jpg"
    params = {"Bucket": stack.names.input_bucket, "Key": key}
    put_url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=1)
    get_url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    # Signed at the same second: once the GET has expired (it never stores anything), the PUT has too.
    expired = poll(lambda: (answer := call("GET", get_url)).code == "AccessDenied" and answer, deadline_s=10)
    assert "Request has expired" in expired.body
    assert (call("PUT", put_url, photo).status, call("PUT", put_url, photo).code) == (403, "AccessDenied")
    assert stack.client("s3").list_objects_v2(Bucket=stack.names.input_bucket, Prefix=key)["KeyCount"] == 0


# ---- the buckets are private -------------------------------------------------------------------------
def test_an_anonymous_get_of_an_original_or_a_rendition_is_denied(stack: LocalPipeline, client: Client, photo: bytes):
    image_id = client.upload("private.jpg", photo, "image/jpeg")
    view = client.wait(image_id)
    original = f"{stack.aws_endpoint}/{stack.names.input_bucket}/{view['upload']['key']}"
    rendition = f"{stack.aws_endpoint}/{stack.names.output_bucket}/{view['renditions'][0]['key']}"
    for url in (original, rendition, f"{stack.aws_endpoint}/{stack.names.input_bucket}?list-type=2"):
        answer = call("GET", url, headers={"Origin": PAGE})
        assert (answer.status, answer.code) == (403, "AccessDenied"), url


def test_any_credentials_work_for_sdk_and_cli_requests(stack: LocalPipeline):
    """As the README promises for the AWS CLI: locally every access key is valid, with any secret."""
    s3 = sigv4_client(stack, "AKIAANYONE", "anything")
    key = "work/any-credentials/probe.txt"
    s3.put_object(Bucket=stack.names.output_bucket, Key=key, Body=b"probe", Metadata={"owner": "me"})
    assert s3.get_object(Bucket=stack.names.output_bucket, Key=key)["Body"].read() == b"probe"
    s3.delete_object(Bucket=stack.names.output_bucket, Key=key)


# ---- CORS: answered from the buckets' rules (imgpipe.topology), as S3 answers -------------------------
def preflight(url: str, method: str, headers: str | None = None, origin: str = PAGE) -> Answer:
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return call("OPTIONS", url, headers=request_headers)


# The input bucket's one CORS rule, as S3 states it on a response (the preflight adds the headers it allows).
UPLOAD_RULE_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "PUT",
    "Access-Control-Expose-Headers": "ETag",
    "Access-Control-Max-Age": "3000",
}


def test_a_browser_preflight_for_the_upload_is_answered_without_a_signature(upload: dict):
    # A browser preflights the URL as it is, but S3 never checks a signature on OPTIONS: bare works too.
    for url in (upload["uploadUrl"], bare(upload["uploadUrl"])):
        answer = preflight(url, "PUT", "content-type,if-none-match")
        assert answer.status == 200
        assert answer.cors == {**UPLOAD_RULE_CORS, "Access-Control-Allow-Headers": "content-type, if-none-match"}
        assert "Origin" in answer.headers["Vary"]


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("PUT", "content-type,if-none-match,x-amz-acl"),  # a header the rule does not allow
        ("PUT", "content-type,x-requested-with"),
        ("DELETE", None),  # a method the rule does not allow
        ("GET", None),
    ],
)
def test_a_preflight_the_rule_does_not_allow_gets_403_and_no_cors_headers(upload: dict, method: str, headers):
    answer = preflight(upload["uploadUrl"], method, headers)
    assert (answer.status, answer.code) == (403, "AccessForbidden")
    assert "CORSResponse: This CORS request is not allowed" in answer.body
    assert answer.cors == {}


def test_renditions_bucket_allows_get_but_not_put_from_pages(stack: LocalPipeline):
    url = f"{stack.aws_endpoint}/{stack.names.output_bucket}/renditions/x/large.jpg"
    assert preflight(url, "GET").status == 200
    assert preflight(url, "PUT", "content-type").status == 403


def test_the_upload_response_carries_the_rule_cors_headers_only(upload: dict, photo: bytes):
    answer = call("PUT", upload["uploadUrl"], photo, {**upload["headers"], "Origin": PAGE})
    assert answer.status == 200
    # The rule's headers, not moto's "allow any header" ones: a page reads only what S3 would expose.
    assert answer.cors == UPLOAD_RULE_CORS


def test_a_refused_put_from_a_page_is_readable_by_the_page(upload: dict, photo: bytes):
    answer = call("PUT", bare(upload["uploadUrl"]), photo, {**upload["headers"], "Origin": PAGE})
    assert (answer.status, answer.code) == (403, "AccessDenied")
    assert answer.cors["Access-Control-Allow-Origin"] == "*"
