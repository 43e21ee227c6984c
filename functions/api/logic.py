"""The HTTP contract (docs/openapi.yaml): presigned upload URLs and image status."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from imgpipe.adapters import ImageRepository, PageKey
from imgpipe.config import (
    AWAITING_UPLOAD,
    COMPLETE,
    DELETED,
    DELETED_MARKER_TAG,
    EXPIRED,
    EXPRESS_MAX_DURATION_S,
    FAILED,
    OUTPUT_BUCKET_PREFIXES,
    PROCESSING,
    RENDITION_PREFIX,
    SHARED_OWNER,
    TOMBSTONE_TTL_S,
    UPLOAD_PREFIX,
    PipelineSettings,
)
from imgpipe.contracts import utc_now
from imgpipe.delivery import RenditionDelivery
from imgpipe.errors import PUBLIC_ERRORS, public_error
from imgpipe.uploads import UploadRefused, safe_filename, upload_content_type

AWAITING_RECORD_TTL = 24 * 3600  # an upload URL that was never used leaves no record behind
_IMAGE_ID = re.compile(r"[0-9a-f]{32}")
_SIZE = re.compile(r"-?[0-9]+")  # a whole number; its sign and range are checked apart
STUCK_GRACE_S = 30
STUCK_MESSAGE = PUBLIC_ERRORS["PROCESSING_TIMEOUT"]
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


def sanitise_filename(name: str | None) -> str:
    """The name kept in the record and the key: letters and digits of any script (imgpipe.uploads)."""
    try:
        return safe_filename(name)
    except UploadRefused as exc:
        raise BadRequest(exc.code, exc.message) from None


def declared_content_type(declared: str | None) -> str:
    """The type the upload URL signs: normalised; any image/* or octet-stream (the bytes are sniffed
    later), never a declared non-image (imgpipe.uploads)."""
    try:
        return upload_content_type(declared)
    except UploadRefused as exc:
        raise BadRequest(exc.code, exc.message) from None


def declared_size(size: str | None, max_bytes: int) -> int:
    """The upload's length as the client declared it: a whole, positive number of bytes, at most
    the byte limit.  Each way of getting it wrong has its own message."""
    if size is None or size == "":
        raise BadRequest("INVALID_SIZE", "size (the upload's length in bytes) is required")
    shown = repr(size) if len(size) <= 24 else f"{size[:20]!r}… ({len(size)} characters)"
    if not _SIZE.fullmatch(size):
        raise BadRequest("INVALID_SIZE", f"size must be a whole number of bytes, not {shown}")
    if size.startswith("-") or not size.strip("0"):
        raise BadRequest("INVALID_SIZE", f"size must be positive (at least 1 byte), not {shown}")
    if len(size) > 15:  # no upload is a petabyte; and int() of thousands of digits is work for nothing
        raise BadRequest("INVALID_SIZE", f"size must be a length in bytes, not {shown}")
    length = int(size)
    if length > max_bytes:
        raise BadRequest("IMAGE_TOO_LARGE", f"size must be at most {max_bytes} bytes (the upload limit), not {length}")
    return length


def issue_upload_url(
    api: Api, filename: str | None, content_type: str | None, size: str | None, *, owner: str
) -> dict[str, Any]:
    safe_name = sanitise_filename(filename)
    content_type = declared_content_type(content_type)
    length = declared_size(size, api.settings.limits.max_bytes)
    image_id = uuid.uuid4().hex
    key = f"{UPLOAD_PREFIX}{image_id}/{safe_name}"
    expires_in = api.settings.upload_url_ttl
    url = api.presigner.presign_put(api.input_bucket, key, content_type, length, expires_in)
    now = utc_now()
    api.images.create_awaiting(
        {
            "imageId": image_id,
            "owner": owner,
            "status": AWAITING_UPLOAD,
            "upload": {"key": key, "filename": safe_name, "declaredType": content_type, "declaredSize": length},
            "createdAt": now,
            "updatedAt": now,
            "ttl": int(time.time()) + AWAITING_RECORD_TTL,
        }
    )
    return {
        "imageId": image_id,
        "key": key,
        "uploadUrl": url,
        "method": "PUT",
        "headers": {"Content-Type": content_type, "If-None-Match": "*"},
        "expiresIn": expires_in,
    }


def _error_view(error: dict[str, Any]) -> dict[str, str]:
    """The public code and its fixed message for the recorded Step Functions error (the events
    present it the same way: imgpipe.errors.public_error)."""
    return public_error(error.get("code"))


def execution_reference(execution_arn: str | None) -> str | None:
    """The execution's name: enough to find it (`imgpipe history`, the execution logs), without the
    account id and state machine the ARN carries."""
    if not execution_arn:
        return None
    parts = execution_arn.split(":")  # arn:aws:states:<region>:<account>:execution|express:<machine>:<name>[:<id>]
    return parts[7] if len(parts) > 7 else None


def upload_expiry(record: dict[str, Any], settings: PipelineSettings) -> datetime | None:
    """When the record's upload URL stops working (it was signed when the record was created)."""
    created = record.get("createdAt")
    if not isinstance(created, str):
        return None
    return datetime.fromisoformat(created.replace("Z", "+00:00")) + timedelta(seconds=settings.upload_url_ttl)


def _record_expired(record: dict[str, Any], now: datetime) -> bool:
    """DynamoDB deletes an item some time after its ``ttl`` (up to days) and serves it until then;
    the API treats it as gone from that second, so AWS and the local stack answer alike."""
    ttl = record.get("ttl")
    return isinstance(ttl, int | float) and ttl <= now.timestamp()


def _stuck(record: dict[str, Any], now: datetime) -> bool:
    """An Express execution lives at most EXPRESS_MAX_DURATION_S; one that hit that limit, or failed
    with an error no Catch can handle (States.Runtime), ended without recording anything."""
    if record.get("status") != PROCESSING or not record.get("startedAt") or not record.get("executionId"):
        return False
    started = datetime.fromisoformat(record["startedAt"].replace("Z", "+00:00"))
    return (now - started).total_seconds() > EXPRESS_MAX_DURATION_S + STUCK_GRACE_S


def image_status(api: Api, image_id: str, *, owner: str, now: datetime | None = None) -> dict[str, Any] | None:
    if not _IMAGE_ID.fullmatch(image_id):
        return None
    record = api.images.get(image_id)
    now = now or datetime.now(UTC)
    if record is None or not owned_by(record, owner) or _record_expired(record, now):
        return None
    if record.get("status") == DELETED:  # a tombstone is no image
        return None
    if _stuck(record, now):
        error = {"code": "PROCESSING_TIMEOUT", "cause": STUCK_MESSAGE}
        stamp = utc_now(now)
        if api.images.fail_stale(image_id, record["executionId"], error, stamp):
            record = {**record, "status": FAILED, "error": error, "failedAt": stamp}
        else:  # the execution finished after all, between our read and our write
            record = api.images.get(image_id) or record
    status = record.get("status", AWAITING_UPLOAD)
    view: dict[str, Any] = {
        "imageId": image_id,
        "status": status,
        "createdAt": record.get("createdAt"),
        "updatedAt": record.get("updatedAt"),
        "executionId": execution_reference(record.get("executionId")),
        "upload": record.get("upload"),
    }
    if status == AWAITING_UPLOAD and (expires := upload_expiry(record, api.settings)):
        # Computed, never stored: an unused URL shows EXPIRED once it cannot be used any more (after a
        # grace for an upload that began before expiry to arrive), until the record's TTL removes it.
        view["expiresAt"] = utc_now(expires)
        if now > expires + timedelta(seconds=UPLOAD_ARRIVAL_GRACE_S):
            view["status"] = EXPIRED
    if record.get("original"):
        view["original"] = record["original"]
    if status == COMPLETE:
        view["completedAt"] = record.get("completedAt")
        view["renditions"] = api.rendition_delivery().with_urls(record.get("renditions", []), now)
    if status == FAILED:
        view["failedAt"] = record.get("failedAt")
        view["error"] = _error_view(record.get("error") or {})
    return {k: v for k, v in view.items() if v is not None}


# ---- GET /images: the caller's images, newest first ------------------------------------------------
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100
# With a status filter DynamoDB reads `limit` index entries and then filters, so a page can come up
# short; the API reads on (each read asking only for what is missing) up to this many times, then
# answers the short page with its cursor rather than make one request arbitrarily long.
LIST_MAX_READS = 5
LISTABLE_STATUSES = (AWAITING_UPLOAD, EXPIRED, PROCESSING, COMPLETE, FAILED)
_LIMIT = re.compile(r"[0-9]{1,3}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")


def encode_cursor(key: PageKey) -> str:
    """Opaque to clients: where the page ended in the owner index (base64url of its key, no owner)."""
    raw = json.dumps([key["createdAt"], key["imageId"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> PageKey:
    """The page key inside a cursor this API made; anything else is a 400, never a DynamoDB error."""
    invalid = BadRequest("INVALID_CURSOR", "cursor must be a nextCursor value this API returned")
    if not _CURSOR.fullmatch(cursor):
        raise invalid
    try:
        created, image_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):  # not base64, not JSON, not a pair
        raise invalid from None
    if not (isinstance(created, str) and _TIMESTAMP.fullmatch(created)):
        raise invalid
    if not (isinstance(image_id, str) and _IMAGE_ID.fullmatch(image_id)):
        raise invalid
    return {"imageId": image_id, "createdAt": created}


def _page_size(limit: str | None) -> int:
    if limit is None:
        return LIST_DEFAULT_LIMIT
    if not _LIMIT.fullmatch(limit) or not 1 <= int(limit) <= LIST_MAX_LIMIT:
        raise BadRequest("INVALID_LIMIT", f"limit must be a whole number from 1 to {LIST_MAX_LIMIT}")
    return int(limit)


def _list_item(api: Api, record: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """One image as the list shows it: the status GET /images/{imageId} would show (EXPIRED for an
    unused upload URL), its name, times, and renditions with URLs once COMPLETE."""
    if record.get("status") == DELETED or _record_expired(record, now):
        return None  # the index is eventually consistent: a just-deleted image can linger a moment
    status = record.get("status", AWAITING_UPLOAD)
    expires = upload_expiry(record, api.settings) if status == AWAITING_UPLOAD else None
    if expires is not None and now > expires + timedelta(seconds=UPLOAD_ARRIVAL_GRACE_S):
        status = EXPIRED
    item: dict[str, Any] = {
        "imageId": record["imageId"],
        "status": status,
        "filename": (record.get("upload") or {}).get("filename"),
        "createdAt": record.get("createdAt"),
        "updatedAt": record.get("updatedAt"),
    }
    if status == COMPLETE:
        item["renditions"] = api.rendition_delivery().with_urls(record.get("renditions", []), now)
    return {k: v for k, v in item.items() if v is not None}


def list_images(
    api: Api,
    *,
    owner: str,
    limit: str | None = None,
    cursor: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A page of the owner's images, newest first, from the owner index (a query, never a scan).
    ``nextCursor`` is present while the index may hold more; a page can be shorter than ``limit``
    (even empty) with a status filter, and the last full page can lead to an empty one."""
    size = _page_size(limit)
    if status is not None and status not in LISTABLE_STATUSES:
        raise BadRequest("INVALID_STATUS", f"status must be one of {', '.join(LISTABLE_STATUSES)}")
    start = decode_cursor(cursor) if cursor else None
    stored = AWAITING_UPLOAD if status == EXPIRED else status  # EXPIRED is computed, never stored
    now = now or datetime.now(UTC)
    items: list[dict[str, Any]] = []
    for _ in range(LIST_MAX_READS):
        # Each read evaluates at most what the page still lacks, so the index position it stops at
        # is exactly the last item considered: the cursor never skips one.
        records, start = api.images.list_by_owner(owner, size - len(items), start, stored)
        for record in records:
            item = _list_item(api, record, now)
            if item is not None and (status is None or item["status"] == status):
                items.append(item)
        if start is None or len(items) == size:
            break
    page: dict[str, Any] = {"items": items}
    if start is not None:
        page["nextCursor"] = encode_cursor(start)
    return page


# ---- DELETE /images/{imageId} --------------------------------------------------------------------


def _upload_keys(image_id: str, record: dict[str, Any]) -> list[str]:
    """The image's original(s) in the input bucket: only keys under its own upload prefix."""
    prefix = f"{UPLOAD_PREFIX}{image_id}/"
    keys = {(record.get("upload") or {}).get("key"), (record.get("source") or {}).get("key")}
    return sorted(k for k in keys if isinstance(k, str) and k.startswith(prefix))


def delete_image(api: Api, image_id: str, *, owner: str, now: datetime | None = None) -> bool:
    """Delete the image: False (404) if the caller has no such image or it is deleted already.

    Marks first, then removes: the record becomes a tombstone (status DELETED, with a TTL), so no
    execution still running can write it back as COMPLETE or FAILED, and the watermark step discards
    renditions it writes after that (functions/watermark/logic.py); the tombstone's write is also
    what publishes ImageDeleted (imgpipe.events).  Then the original, the work files and the
    renditions go, the CDN forgets the paths and the tombstone is marked purged.  A delete
    interrupted before that (a timeout, a throttled call: TransientError, answered 503) is
    finished by the next DELETE."""
    if not _IMAGE_ID.fullmatch(image_id):
        return False
    now = now or datetime.now(UTC)
    record = api.images.get(image_id)
    if record is None or not owned_by(record, owner) or _record_expired(record, now):
        return False
    if record.get("status") != DELETED:
        expires_at = int(now.timestamp()) + TOMBSTONE_TTL_S
        if not api.images.mark_deleted(image_id, utc_now(now), expires_at):
            record = api.images.get(image_id)  # a concurrent DELETE marked it first: finish with it
            if record is None or record.get("status") != DELETED:
                return False
    if record.get("purgedAt"):
        return False
    _purge(api, image_id, record, now)
    return True


def _purge(api: Api, image_id: str, record: dict[str, Any], now: datetime) -> None:
    assert api.files is not None, "DELETE needs the file store"
    for key in _upload_keys(image_id, record):
        api.files.put_marker(api.input_bucket, key, DELETED_MARKER_TAG)  # replaces the original's bytes
    for prefix in OUTPUT_BUCKET_PREFIXES:
        keys = api.files.list_keys(api.output_bucket, f"{prefix}{image_id}/")
        if keys:
            api.files.delete(api.output_bucket, keys)
    if api.invalidator is not None:
        api.invalidator.invalidate([f"/{RENDITION_PREFIX}{image_id}/*"])
    api.images.mark_purged(image_id, utc_now(now))
