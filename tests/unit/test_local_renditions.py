"""The local CDN only ever asks the bucket for a rendition's key, whatever path a client sends."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from imgpipe.local.renditions import serve_rendition

IMAGE_ID = "0123456789abcdef0123456789abcdef"


class RecordingBucket:
    """Stands in for the S3 client: records every key asked for and has none of them."""

    def __init__(self) -> None:
        self.keys: list[str] = []

        class ClientError(Exception):
            response: dict[str, Any] = {"Error": {"Code": "NoSuchKey"}}  # noqa: RUF012

        self.exceptions = type("Exceptions", (), {"ClientError": ClientError})

    def get_object(self, Bucket: str, Key: str) -> Any:
        self.keys.append(Key)
        raise self.exceptions.ClientError()

    head_object = get_object


def request_for(path: str) -> Request:
    return Request(EnvironBuilder(path=path, method="GET").get_environ())


@pytest.mark.parametrize(
    "path",
    [
        f"/renditions/../work/{IMAGE_ID}/renditions.raw",
        f"/renditions/{IMAGE_ID}/../../uploads/{IMAGE_ID}/photo.jpg",
        f"/renditions//{IMAGE_ID}/large.jpg",
        f"/renditions/{IMAGE_ID}/large.jpg/extra",
        "/renditions/not-an-id/large.jpg",
    ],
)
def test_a_path_that_is_not_a_rendition_key_never_reaches_the_bucket(path: str):
    bucket = RecordingBucket()
    response = serve_rendition(request_for(path), bucket, "imgpipe-output")
    assert response.status_code == 403
    assert bucket.keys == []


def test_a_rendition_key_is_asked_for_as_written():
    bucket = RecordingBucket()
    response = serve_rendition(request_for(f"/renditions/{IMAGE_ID}/large.webp"), bucket, "imgpipe-output")
    assert response.status_code == 403  # absent, as S3 behind CloudFront answers
    assert bucket.keys == [f"renditions/{IMAGE_ID}/large.webp"]
