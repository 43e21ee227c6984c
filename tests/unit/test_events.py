"""Which record changes publish which event, and how a batch reports what it could not publish."""

from __future__ import annotations

import json
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from jsonschema import Draft202012Validator

from functions.events.logic import publish_changes
from imgpipe import config
from imgpipe.adapters import DeletedImage, EventBridgePublisher, cdn_invalidator
from imgpipe.delivery import RenditionDelivery
from imgpipe.events import event_for_change
from imgpipe.paths import checkout_root

SCHEMAS = checkout_root() / "docs" / "schemas"
IMAGE_ID = "3f1c2a9be0d44f0a9d1c8f3e5b7a6d21"
CDN = RenditionDelivery("cdn", "out", "https://cdn.example", 3600, None)


def valid(detail_type: str, detail: dict[str, Any]) -> None:
    Draft202012Validator(json.loads((SCHEMAS / f"{detail_type}.json").read_text())).validate(detail)


@pytest.fixture
def processing(event) -> dict[str, Any]:
    payload = event("metadata_input")
    return {
        "imageId": payload["imageId"],
        "owner": "sub-1",
        "status": "PROCESSING",
        "createdAt": "2026-03-01T12:00:00Z",
        "upload": {"key": payload["original"]["key"], "filename": "ladybird.jpg", "declaredType": "image/jpeg"},
        "source": {"bucket": "in", "key": payload["original"]["key"], "eTag": "e"},
    }


@pytest.fixture
def complete(processing, event) -> dict[str, Any]:
    payload = event("metadata_input")
    return {
        **processing,
        "status": "COMPLETE",
        "original": payload["original"],
        "renditions": payload["renditions"],
        "completedAt": "2026-03-01T12:00:03Z",
    }


def test_turning_complete_publishes_image_processed_with_stable_urls(processing, complete):
    detail_type, detail = event_for_change(processing, complete, CDN)
    assert detail_type == "ImageProcessed"
    valid("ImageProcessed", detail)
    assert detail["owner"] == "sub-1" and detail["filename"] == "ladybird.jpg"
    assert detail["renditions"][0]["url"] == f"https://cdn.example/renditions/{IMAGE_ID}/large.jpg"
    assert "watermarked" not in detail["renditions"][0]


def test_with_presigned_delivery_events_carry_keys_and_no_url(processing, complete):
    _, detail = event_for_change(processing, complete, None)
    valid("ImageProcessed", detail)
    assert all("url" not in r and r["key"].startswith("renditions/") for r in detail["renditions"])


@pytest.mark.parametrize(
    ("code", "public"),
    [
        ("NOT_AN_IMAGE", "NOT_AN_IMAGE"),
        ("States.Timeout", "INTERNAL_ERROR"),
        ("PROCESSING_TIMEOUT", "PROCESSING_TIMEOUT"),
    ],
)
def test_turning_failed_publishes_the_public_error_only(processing, code, public):
    failed = {**processing, "status": "FAILED", "failedAt": "2026-03-01T12:00:01Z",
              "error": {"code": code, "cause": '{"errorMessage": "s3://in/uploads/... arn:aws:..."}'}}  # fmt: skip
    detail_type, detail = event_for_change(processing, failed, CDN)
    assert detail_type == "ImageFailed"
    valid("ImageFailed", detail)
    assert detail["error"]["code"] == public
    assert "arn:aws" not in json.dumps(detail)  # the raw cause is for operators, not subscribers


def test_a_tombstone_publishes_image_deleted(complete):
    tombstone = {**complete, "status": "DELETED", "deletedAt": "2026-03-01T12:05:00Z"}
    detail_type, detail = event_for_change(complete, tombstone, CDN)
    assert detail_type == "ImageDeleted"
    valid("ImageDeleted", detail)


def test_writes_that_change_no_outcome_publish_nothing(processing, complete):
    assert event_for_change(None, processing, CDN) is None  # a claim
    assert event_for_change(complete, {**complete, "completedAt": "later"}, CDN) is None  # a retried write
    tombstone = {**complete, "status": "DELETED"}
    assert event_for_change(tombstone, {**tombstone, "purgedAt": "now"}, CDN) is None  # the purge mark
    assert event_for_change(complete, None, CDN) is None  # a TTL removal


class Refusing:
    """An EventPublisher that accepts the first ``accept`` events of a call and refuses the rest."""

    def __init__(self, accept: int) -> None:
        self.accept = accept
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, events: list[tuple[str, dict[str, Any]]]) -> int:
        self.published += events[: self.accept]
        return min(self.accept, len(events))


def stream_record(sequence: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    serializer = TypeSerializer()

    def image(item: dict[str, Any]) -> dict[str, Any]:
        return {k: serializer.serialize(v) for k, v in item.items()}

    change: dict[str, Any] = {"SequenceNumber": str(sequence), "Keys": {"imageId": {"S": IMAGE_ID}}}
    if old is not None:
        change["OldImage"] = image(old)
    if new is not None:
        change["NewImage"] = image(new)
    return {"eventName": "MODIFY" if old and new else "INSERT" if new else "REMOVE", "dynamodb": change}


def test_a_batch_reports_the_first_event_not_published_and_every_one_after(processing, complete):
    failed = {**processing, "imageId": "b" * 32, "status": "FAILED", "error": {"code": "NOT_AN_IMAGE"}}
    tombstone = {**complete, "status": "DELETED", "deletedAt": "2026-03-01T12:05:00Z"}
    batch = {
        "Records": [
            stream_record(1, None, processing),  # publishes nothing
            stream_record(2, processing, complete),
            stream_record(3, {**processing, "imageId": "b" * 32}, failed),
            stream_record(4, complete, tombstone),
        ]
    }
    publisher = Refusing(accept=1)
    result = publish_changes(batch, publisher, CDN)
    assert [kind for kind, _ in publisher.published] == ["ImageProcessed"]
    assert result == {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "4"}]}
    assert publish_changes(batch, Refusing(accept=10), CDN) == {"batchItemFailures": []}


class FakeEventBridge:
    def __init__(self, refuse_from: int) -> None:
        self.refuse_from = refuse_from
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        done = sum(len(c) for c in self.calls[:-1])
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "x"} if done + i >= self.refuse_from else {"EventId": "e"}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_the_publisher_sends_ten_per_call_and_counts_the_accepted_prefix():
    publisher = EventBridgePublisher("my-bus", "imgpipe")
    publisher.client = FakeEventBridge(refuse_from=13)
    events = [("ImageProcessed", {"imageId": f"{n:032x}"}) for n in range(25)]
    assert publisher.publish(events) == 13
    assert [len(c) for c in publisher.client.calls] == [10, 10]  # stopped at the refused one
    entry = publisher.client.calls[0][0]
    assert entry["EventBusName"] == "my-bus" and entry["Source"] == "imgpipe"
    assert json.loads(entry["Detail"]) == {"imageId": "0" * 32}


def test_the_invalidation_hook_exists_only_for_cdn_with_a_distribution():
    cdn, presigned = config.PipelineSettings(delivery="cdn"), config.PipelineSettings(delivery="presigned")
    assert cdn_invalidator(cdn, {config.ENV_DISTRIBUTION_ID: "E123"}).distribution_id == "E123"
    assert cdn_invalidator(cdn, {}) is None  # the local stack: nothing caches renditions
    assert cdn_invalidator(presigned, {config.ENV_DISTRIBUTION_ID: "E123"}) is None


def test_dynamo_complete_refuses_a_tombstone_and_says_so(images_table, processing):
    images_table.create_awaiting({**processing, "objectVersion": "e:1"})
    assert images_table.mark_deleted(IMAGE_ID, "2026-03-01T12:05:00Z", 1_900_000_000) is True
    assert images_table.mark_deleted(IMAGE_ID, "2026-03-01T12:05:00Z", 1_900_000_000) is False
    with pytest.raises(DeletedImage):
        images_table.complete(IMAGE_ID, "e:1", {"status": "COMPLETE"})
    record = images_table.get(IMAGE_ID)
    assert record["status"] == "DELETED" and "createdAt" not in record and record["owner"] == "sub-1"
    images_table.mark_purged(IMAGE_ID, "2026-03-01T12:05:01Z")
    assert {"upload", "source"}.isdisjoint(images_table.get(IMAGE_ID))
