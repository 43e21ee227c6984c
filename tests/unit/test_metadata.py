from __future__ import annotations

from typing import Any

from functions.metadata.logic import record_image
from imgpipe.aws import StaleExecution


class FakeImages:
    """An ImageRepository in memory, with the same ownership rule as DynamoImages.complete."""

    def __init__(self, records: dict[str, dict[str, Any]] | None = None):
        self.records = records or {}

    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> None:
        record = self.records.get(image_id)
        if record is None or record.get("objectVersion") != object_version:
            raise StaleExecution(image_id)
        record.update(fields)


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
