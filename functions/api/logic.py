"""What every route of the HTTP contract (docs/openapi.yaml) shares: the Api (settings, buckets and
adapters), BadRequest, and when a record is an image its caller can see.  The routes themselves:
upload_url (GET /upload-url), status (GET /images/{imageId}), listing (GET /images), deletion
(DELETE /images/{imageId}) and execution (GET /images/{imageId}/execution)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeGuard

from imgpipe.adapters import ImageRepository
from imgpipe.config import AWAITING_UPLOAD, DELETED, EXPIRED, SHARED_OWNER, PipelineSettings
from imgpipe.delivery import RenditionDelivery

IMAGE_ID = re.compile(r"[0-9a-f]{32}")
# S3 checks a presigned URL's expiry when the PUT starts; its event reaches the workflow seconds after
# the PUT ends.  An AWAITING_UPLOAD record turns EXPIRED only this long after its URL expired.
UPLOAD_ARRIVAL_GRACE_S = 60


class BadRequest(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Presigner(Protocol):
    def presign_put(self, bucket: str, key: str, content_type: str, content_length: int, expires_in: int) -> str: ...
    def presign_get(self, bucket: str, key: str, expires_in: int) -> str: ...


class FileStore(Protocol):
    """What deleting an image's files takes (S3Store; tests' FakeStore)."""

    def put_marker(self, bucket: str, key: str, tag: tuple[str, str]) -> None: ...
    def delete(self, bucket: str, keys: list[str]) -> None: ...
    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...


class Invalidator(Protocol):
    """Drops paths from the CDN's caches (delivery ``cdn`` on AWS); absent when nothing caches them."""

    def invalidate(self, paths: list[str]) -> None: ...


@dataclass
class Api:
    settings: PipelineSettings
    input_bucket: str
    output_bucket: str
    images: ImageRepository
    presigner: Presigner
    delivery: RenditionDelivery | None = None  # None: from settings and the environment, on first use
    # What DELETE needs beyond reads: the buckets' files and the CDN's caches.
    files: FileStore | None = None
    invalidator: Invalidator | None = None

    def rendition_delivery(self) -> RenditionDelivery:
        if self.delivery is None:
            self.delivery = RenditionDelivery.from_settings(self.settings, self.output_bucket, self.presigner)
        return self.delivery


def owned_by(record: dict[str, Any], owner: str) -> bool:
    """Every read, list and delete is scoped to the caller: another owner's image does not exist for
    them.  Records written before owners existed belong to the shared (API key) owner."""
    stored: str = record.get("owner", SHARED_OWNER)
    return stored == owner


def visible_to(record: dict[str, Any] | None, owner: str, now: datetime) -> TypeGuard[dict[str, Any]]:
    """The record exists for this caller: it is theirs and past its TTL it is gone (record_expired)."""
    return record is not None and owned_by(record, owner) and not record_expired(record, now)


def upload_expiry(record: dict[str, Any], settings: PipelineSettings) -> datetime | None:
    """When the record's upload URL stops working (it was signed when the record was created)."""
    created = record.get("createdAt")
    if not isinstance(created, str):
        return None
    return datetime.fromisoformat(created.replace("Z", "+00:00")) + timedelta(seconds=settings.upload_url_ttl)


def record_expired(record: dict[str, Any], now: datetime) -> bool:
    """DynamoDB deletes an item some time after its ``ttl`` (up to days) and serves it until then;
    the API treats it as gone from that second, so AWS and the local stack answer alike."""
    ttl = record.get("ttl")
    return isinstance(ttl, int | float) and ttl <= now.timestamp()


def is_live(record: dict[str, Any], now: datetime) -> bool:
    """An image rather than a tombstone (status DELETED) or a record past its TTL."""
    return record.get("status") != DELETED and not record_expired(record, now)


def displayed_status(record: dict[str, Any], settings: PipelineSettings, now: datetime) -> tuple[str, datetime | None]:
    """The status the API shows (EXPIRED for an unused upload URL: computed, never stored) and, while
    the record awaits its upload, when its URL expires."""
    status = record.get("status", AWAITING_UPLOAD)
    expires = upload_expiry(record, settings) if status == AWAITING_UPLOAD else None
    if expires is not None and upload_url_expired(expires, now):
        status = EXPIRED
    return status, expires


def upload_url_expired(expires: datetime, now: datetime) -> bool:
    """An unused upload URL shows EXPIRED once it cannot be used any more, after a grace for an upload
    that began before its expiry to arrive (computed, never stored)."""
    return now > expires + timedelta(seconds=UPLOAD_ARRIVAL_GRACE_S)
