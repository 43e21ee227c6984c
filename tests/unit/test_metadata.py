from __future__ import annotations

import boto3
import pytest

from functions.metadata.logic import record_image
from imgpipe.adapters import StaleExecution
from tests.fakes import FakeImages


def test_record_image_marks_the_image_complete_with_original_and_renditions(event):
    payload = event("metadata_input")
    images = FakeImages({payload["imageId"]: {"status": "PROCESSING", "objectVersion": payload["objectVersion"]}})

    result = record_image(payload, images, now="2026-11-28T09:00:01Z")

    assert result == {"status": "COMPLETE"}
    record = images.records[payload["imageId"]]
    assert record["status"] == "COMPLETE"
    assert record["original"]["sha256"] == payload["original"]["sha256"]
    assert [r["name"] for r in record["renditions"]] == ["large", "medium", "small"]
    assert record["completedAt"] == record["updatedAt"] == "2026-11-28T09:00:01Z"
    assert record["executionId"] == payload["executionId"]


def test_record_image_does_not_overwrite_a_newer_upload(event):
    payload = event("metadata_input")
    images = FakeImages({payload["imageId"]: {"status": "PROCESSING", "objectVersion": "newer-etag:01"}})

    assert record_image(payload, images) == {"status": "SUPERSEDED"}
    assert images.records[payload["imageId"]] == {"status": "PROCESSING", "objectVersion": "newer-etag:01"}


def test_dynamo_complete_writes_only_while_the_execution_owns_the_record(images_table, event):
    payload = event("metadata_input")
    images_table.create_awaiting(
        {"imageId": payload["imageId"], "status": "PROCESSING", "objectVersion": payload["objectVersion"]}
    )

    assert record_image(payload, images_table, now="2026-11-28T09:00:01Z") == {"status": "COMPLETE"}
    stored = images_table.get(payload["imageId"])
    assert stored["status"] == "COMPLETE"
    assert stored["renditions"][0]["bytes"] == 123372  # numbers survive the Decimal round trip

    boto3.client("dynamodb").update_item(
        TableName="images", Key={"imageId": {"S": payload["imageId"]}},
        UpdateExpression="SET objectVersion = :v", ExpressionAttributeValues={":v": {"S": "newer:02"}},
    )  # fmt: skip
    with pytest.raises(StaleExecution):
        images_table.complete(payload["imageId"], payload["objectVersion"], {"status": "COMPLETE"})


def test_dynamo_fail_stale_only_fails_the_execution_it_names(images_table):
    images_table.create_awaiting({"imageId": "a" * 32, "status": "PROCESSING", "executionId": "exec-1"})
    error = {"code": "PROCESSING_TIMEOUT", "cause": "too slow"}
    assert images_table.fail_stale("a" * 32, "exec-0", error, "2026-11-28T09:10:00Z") is False
    assert images_table.get("a" * 32)["status"] == "PROCESSING"
    assert images_table.fail_stale("a" * 32, "exec-1", error, "2026-11-28T09:10:00Z") is True
    assert images_table.get("a" * 32)["error"] == error
    assert images_table.fail_stale("a" * 32, "exec-1", error, "2026-11-28T09:10:00Z") is False  # already FAILED
