"""DELETE /images/{imageId} and GET /images over HTTP against the whole local stack, including a
delete racing the image's own execution: a step is held (the local Lambda service's fault seam)
while the delete runs, then let go, and nothing of the image may come back."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from imgpipe.adapters import S3Store
from imgpipe.client import ApiError, Client
from imgpipe.history import local_history
from imgpipe.local.pipeline import LocalPipeline
from imgpipe.runtime import default_runtime

from .conftest import poll


def objects(stack: LocalPipeline, bucket: str, prefix: str) -> dict[str, int]:
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["Size"] for o in listed}


def files_of(stack: LocalPipeline, image_id: str) -> dict[str, int]:
    """Every object the image has: its original (by size: a deleted one is an empty marker), its work
    files and its renditions."""
    found = objects(stack, stack.names.input_bucket, f"uploads/{image_id}/")
    for prefix in ("work/", "renditions/"):
        found |= objects(stack, stack.names.output_bucket, f"{prefix}{image_id}/")
    return found


def assert_gone(stack: LocalPipeline, client: Client, image_id: str) -> None:
    with pytest.raises(ApiError) as raised:
        client.image(image_id)
    assert raised.value.status == 404
    assert image_id not in [item["imageId"] for item in client.images(limit=100)["items"]]
    assert {key: size for key, size in files_of(stack, image_id).items() if size} == {}  # only the empty marker


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_delete_removes_the_image_and_its_rendition_urls_stop_serving(
    stack: LocalPipeline, client: Client, photo: bytes
):
    image_id = client.upload("delete-me.jpg", photo, "image/jpeg")
    view = client.wait(image_id)
    url = view["renditions"][0]["url"]
    assert fetch_status(url) == 200

    client.delete(image_id)

    assert_gone(stack, client, image_id)
    # As CloudFront answers for a key gone from its private origin (S3 tells no one without
    # ListBucket whether a key exists): 403, or 404 where the origin may say so.
    assert fetch_status(url) in (403, 404)
    with pytest.raises(ApiError) as again:
        client.delete(image_id)
    assert again.value.status == 404 and again.value.code == "IMAGE_NOT_FOUND"


def test_an_upload_url_still_valid_after_the_delete_cannot_bring_the_image_back(
    stack: LocalPipeline, client: Client, photo: bytes
):
    upload = client.request_upload("late.jpg", "image/jpeg", len(photo))
    client.delete(upload["imageId"])

    with pytest.raises(ApiError) as refused:
        client.put(upload, photo)
    assert refused.value.status == 412  # the key is taken (If-None-Match: *) by the empty marker
    assert objects(stack, stack.names.input_bucket, f"uploads/{upload['imageId']}/") == {upload["key"]: 0}
    with pytest.raises(ApiError):
        client.image(upload["imageId"])


def held_in(stack: LocalPipeline, step: str) -> tuple[Callable[..., Any], threading.Event, threading.Event]:
    """A replacement for ``step`` that signals when it is reached and waits to be released."""
    reached, release = threading.Event(), threading.Event()

    def held(real: Callable[..., Any], event: dict[str, Any], context: Any) -> Any:
        reached.set()
        if not release.wait(30):
            raise AssertionError("the test never released the step")
        return real(event, context)

    return held, reached, release


def finished_execution(stack: LocalPipeline, image_id: str) -> Any:
    """The image's processing execution, once it ended (the delete's empty marker starts another
    execution for the same key, which the claim ends at once: not that one)."""
    sfn = stack.client("stepfunctions")

    def processing() -> Any:
        summaries = local_history(sfn, stack.names.state_machine_arn, image_id)
        ran = [s for s in summaries if any(state.name == "Resize" for state in s.states)]
        return ran[0] if ran and ran[0].status != "RUNNING" else None

    return poll(processing)


class PausedBeforeRenditions:
    """The watermark step's object store, stopping at its first rendition PUT: it has read the
    intermediates, and has written nothing yet."""

    def __init__(self, store: S3Store, reached: threading.Event, release: threading.Event):
        self._store, self._reached, self._release = store, reached, release

    def put(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> None:
        if key.startswith("renditions/") and not self._reached.is_set():
            self._reached.set()
            if not self._release.wait(30):
                raise AssertionError("the test never released the step")
        self._store.put(bucket, key, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_delete_while_the_renditions_are_being_made_leaves_none_behind(
    stack: LocalPipeline, client: Client, photo: bytes
):
    """The delete sweeps the image between the watermark step's read and its writes: the step finds
    the tombstone when it has written the renditions, removes them and stops the execution."""
    reached, release = threading.Event(), threading.Event()

    def paused(real: Callable[..., Any], event: dict[str, Any], context: Any) -> Any:
        runtime = default_runtime()
        store = PausedBeforeRenditions(runtime.store, reached, release)
        return real(event, context, runtime=replace(runtime, store=store, memo={}))

    with stack.lambdas.override("watermark", paused):
        image_id = client.upload("race-watermark.jpg", photo, "image/jpeg")
        assert reached.wait(30)
        assert client.image(image_id)["status"] == "PROCESSING"
        client.delete(image_id)
        assert not objects(stack, stack.names.output_bucket, f"renditions/{image_id}/")
        release.set()
        execution = finished_execution(stack, image_id)

    watermark = next(s for s in execution.states if s.name == "Watermark")
    assert [error for error, _ in watermark.failures] == ["DELETED_WHILE_PROCESSING"]
    assert "Metadata" not in [s.name for s in execution.states]
    assert_gone(stack, client, image_id)
    record = stack.client("dynamodb").get_item(TableName=stack.names.table, Key={"imageId": {"S": image_id}})
    assert record["Item"]["status"] == {"S": "DELETED"}


def test_a_delete_before_the_record_is_written_is_not_undone_by_it(stack: LocalPipeline, client: Client, photo: bytes):
    """The renditions exist and the delete sweeps them; the metadata step then finds the tombstone
    and writes nothing: no COMPLETE record comes back."""
    held, reached, release = held_in(stack, "metadata")
    with stack.lambdas.override("metadata", held):
        image_id = client.upload("race-metadata.jpg", photo, "image/jpeg")
        assert reached.wait(30)
        assert objects(stack, stack.names.output_bucket, f"renditions/{image_id}/")  # written already
        client.delete(image_id)
        release.set()
        execution = finished_execution(stack, image_id)

    assert execution.status == "SUCCEEDED"
    assert_gone(stack, client, image_id)
    record = stack.client("dynamodb").get_item(TableName=stack.names.table, Key={"imageId": {"S": image_id}})
    assert record["Item"]["status"] == {"S": "DELETED"} and "renditions" not in record["Item"]


def test_pages_of_the_list_cover_every_image_once_newest_first(client: Client):
    # Upload URLs alone make records (AWAITING_UPLOAD): enough to page through, no processing needed.
    made = [client.request_upload(f"page{n}.jpg", "image/jpeg", 10)["imageId"] for n in range(23)]
    seen: list[dict[str, Any]] = []
    page = client.images(limit=10, status="AWAITING_UPLOAD")
    pages = 1
    seen += page["items"]
    while "nextCursor" in page:
        page = client.images(limit=10, cursor=page["nextCursor"], status="AWAITING_UPLOAD")
        seen += page["items"]
        pages += 1
    ids = [item["imageId"] for item in seen]
    assert len(ids) == len(set(ids))  # no image twice
    assert set(made) <= set(ids)
    created = [item["createdAt"] for item in seen]
    assert created == sorted(created, reverse=True)
    assert pages >= 3


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "INVALID_LIMIT"),
        ({"limit": "abc"}, "INVALID_LIMIT"),
        ({"status": "DELETED"}, "INVALID_STATUS"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "INVALID_CURSOR"),
    ],
)
def test_bad_list_parameters_are_400_with_a_code(client: Client, query: dict[str, str], code: str):
    with pytest.raises(ApiError) as raised:
        client.get("/images", query)
    assert raised.value.status == 400 and raised.value.code == code
