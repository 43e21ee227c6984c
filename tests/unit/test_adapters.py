"""The S3 adapter's edges: where presigned URLs point, and reads that come back short."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import AWSResponse

from imgpipe.adapters import S3Store
from imgpipe.errors import IMAGE_TOO_LARGE, TransientError


@pytest.fixture
def aws_env(aws_credentials, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # outside us-east-1 a regional host is not the global one


def test_presigned_urls_use_the_regional_host(aws_env):
    """The global host answers a new bucket outside us-east-1 with a 307 that breaks uploads."""
    store = S3Store()
    put = urlsplit(store.presign_put("imgpipe-input-abc", "uploads/x/a.jpg", "image/jpeg", 10, 300))
    get = urlsplit(store.presign_get("imgpipe-output-abc", "renditions/x/large.jpg", 300))
    assert put.netloc == "imgpipe-input-abc.s3.eu-west-1.amazonaws.com"
    assert get.netloc == "imgpipe-output-abc.s3.eu-west-1.amazonaws.com"


def test_an_endpoint_url_keeps_path_style_for_the_local_emulator(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:3001")
    url = urlsplit(S3Store().presign_put("imgpipe-input", "uploads/x/a.jpg", "image/jpeg", 10, 300))
    assert (url.netloc, url.path) == ("127.0.0.1:3001", "/imgpipe-input/uploads/x/a.jpg")


class EmptyBody:
    def stream(self):
        return iter(())


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:3001"])
def test_puts_carry_a_crc32_checksum_and_do_not_hash_the_body_into_the_signature(aws_env, monkeypatch, endpoint):
    if endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    store = S3Store()
    sent = []

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 200, {}, EmptyBody())

    store.client.meta.events.register("before-send.s3.PutObject", capture)
    store.put("imgpipe-output", "work/x/large.raw", b"\0" * 1024, "application/octet-stream")
    headers = sent[0].headers
    assert headers["x-amz-content-sha256"] in (b"UNSIGNED-PAYLOAD", b"STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert "x-amz-checksum-crc32" in headers or headers["x-amz-trailer"] == b"x-amz-checksum-crc32"


class ShortClient:
    def __init__(self, body: bytes, length: int):
        self.body, self.length = body, length

    def get_object(self, **_):
        return {"ContentLength": self.length, "Body": io.BytesIO(self.body)}


def store_returning(body: bytes, length: int) -> S3Store:
    class ShortStore(S3Store):
        client = ShortClient(body, length)  # in place of the boto3 client S3Store would make

    return ShortStore()


def test_a_body_shorter_than_its_length_is_a_transient_error_not_a_corrupt_image():
    with pytest.raises(TransientError):
        store_returning(b"\xff\xd8\xff" * 10, 100).get("b", "k", 1000)


def test_an_object_over_the_byte_limit_is_refused_before_it_is_read():
    with pytest.raises(IMAGE_TOO_LARGE):
        store_returning(b"", 2000).get("b", "k", 1000)


def test_a_whole_body_is_returned():
    assert store_returning(b"abc", 3).get("b", "k", 1000) == b"abc"
