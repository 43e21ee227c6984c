"""Fakes over mocks: small in-memory stand-ins with the same contract as the real adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imgpipe.adapters import DeletedImage, PageKey, StaleExecution
from imgpipe.errors import IMAGE_TOO_LARGE, SOURCE_MISSING


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str | None = None
    tags: dict[str, str] | None = None


class FakeStore:
    """An ``imgpipe.adapters.ObjectStore`` in memory, with S3Store's error semantics."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.gets: list[tuple[str, str]] = []

    def get(self, bucket: str, key: str, max_bytes: int) -> bytes:
        self.gets.append((bucket, key))
        stored = self.objects.get((bucket, key))
        if stored is None:
            raise SOURCE_MISSING(f"s3://{bucket}/{key} does not exist")
        if len(stored.data) > max_bytes:
            raise IMAGE_TOO_LARGE(f"{len(stored.data)} bytes is over the limit of {max_bytes}")
        return stored.data

    def put(self, bucket: str, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        self.objects[(bucket, key)] = StoredObject(bytes(data), content_type, cache_control)

    def put_marker(self, bucket: str, key: str, tag: tuple[str, str]) -> None:
        self.objects[(bucket, key)] = StoredObject(b"", "binary/octet-stream", tags=dict([tag]))

    def delete(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            self.objects.pop((bucket, key), None)

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return self.keys(bucket, prefix)

    # ---- test helpers ----
    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def data(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)].data


class FakeImages:
    """An ``imgpipe.adapters.ImageRepository`` in memory, with DynamoImages' conditions."""

    def __init__(self, records: dict[str, dict[str, Any]] | None = None) -> None:
        self.records: dict[str, dict[str, Any]] = records or {}

    def create_awaiting(self, item: dict[str, Any]) -> None:
        assert item["imageId"] not in self.records
        self.records[item["imageId"]] = dict(item)

    def get(self, image_id: str) -> dict[str, Any] | None:
        record = self.records.get(image_id)
        return dict(record) if record else None

    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = self.records.get(image_id)
        if record is not None and record.get("status") == "DELETED":
            raise DeletedImage(image_id)
        if record is None or record.get("objectVersion") != object_version:
            raise StaleExecution(image_id)
        record.update(fields)
        return dict(record)

    def fail_stale(self, image_id: str, execution_id: str, error: dict[str, str], now: str) -> bool:
        record = self.records.get(image_id)
        if record is None or record.get("status") != "PROCESSING" or record.get("executionId") != execution_id:
            return False
        record.update(status="FAILED", error=error, failedAt=now, updatedAt=now)
        return True

    def list_by_owner(
        self, owner: str, limit: int, start: PageKey | None, status: str | None
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """The owner index as DynamoDB queries it: newest first, ``limit`` items *evaluated* (so a
        status filter can return a short page), continuing after ``start``."""
        indexed = sorted(
            (r for r in self.records.values() if r.get("owner") == owner and "createdAt" in r),
            key=lambda r: (r["createdAt"], r["imageId"]),
            reverse=True,
        )
        if start is not None:
            after = (start["createdAt"], start["imageId"])
            indexed = [r for r in indexed if (r["createdAt"], r["imageId"]) < after]
        evaluated = indexed[:limit]
        items = [dict(r) for r in evaluated if status is None or r.get("status") == status]
        last = evaluated[-1] if len(evaluated) == limit else None
        return items, ({"imageId": last["imageId"], "createdAt": last["createdAt"]} if last else None)

    def mark_deleted(self, image_id: str, now: str, expires_at: int) -> bool:
        record = self.records.get(image_id)
        if record is None or record.get("status") == "DELETED":
            return False
        for name in ("createdAt", "renditions", "original", "error", "completedAt", "failedAt", "startedAt"):
            record.pop(name, None)
        record.update(status="DELETED", deletedAt=now, updatedAt=now, ttl=expires_at)
        return True

    def mark_purged(self, image_id: str, now: str) -> None:
        record = self.records.get(image_id)
        if record is not None and record.get("status") == "DELETED":
            record["purgedAt"] = now
            record.pop("upload", None)
            record.pop("source", None)


class NoPresigner:
    """A presigner for API calls that must sign nothing: any use fails the test."""

    def presign_put(self, bucket: str, key: str, content_type: str, content_length: int, expires_in: int) -> str:
        raise AssertionError("not used")

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        raise AssertionError("not used")
