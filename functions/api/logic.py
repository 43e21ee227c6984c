"""The HTTP contract (docs/openapi.yaml): presigned upload URLs and image status."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from imgpipe.adapters import ImageRepository
from imgpipe.config import (
    AWAITING_UPLOAD,
    COMPLETE,
    EXPRESS_MAX_DURATION_S,
    FAILED,
    PROCESSING,
    SHARED_OWNER,
    UPLOAD_PREFIX,
    PipelineSettings,
)
from imgpipe.contracts import utc_now
from imgpipe.delivery import RenditionDelivery
from imgpipe.errors import message_from_cause
from imgpipe.uploads import UploadRefused, safe_filename, upload_content_type

AWAITING_RECORD_TTL = 24 * 3600  # an upload URL that was never used leaves no record behind
_IMAGE_ID = re.compile(r"[0-9a-f]{32}")
_SIZE = re.compile(r"-?[0-9]+")  # a whole number; its sign and range are checked apart
STUCK_GRACE_S = 30
STUCK_MESSAGE = "processing did not finish within 5 minutes; request a new upload URL and try again"


class BadRequest(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Presigner(Protocol):
    def presign_put(self, bucket: str, key: str, content_type: str, content_length: int, expires_in: int) -> str: ...
    def presign_get(self, bucket: str, key: str, expires_in: int) -> str: ...


@dataclass
class Api:
    settings: PipelineSettings
    input_bucket: str
    output_bucket: str
    images: ImageRepository
    presigner: Presigner
    delivery: RenditionDelivery | None = None  # None: from settings and the environment, on first use

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
    """The state machine records Step Functions' raw Error/Cause; present them as code/message."""
    code = error.get("code") or "INTERNAL_ERROR"
    return {"code": code, "message": message_from_cause(error.get("cause"))[:1000]}


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
    if record is None or not owned_by(record, owner):
        return None
    now = now or datetime.now(UTC)
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
        "executionId": record.get("executionId"),
        "upload": record.get("upload"),
    }
    if record.get("original"):
        view["original"] = record["original"]
    if status == COMPLETE:
        view["completedAt"] = record.get("completedAt")
        view["renditions"] = api.rendition_delivery().with_urls(record.get("renditions", []), now)
    if status == FAILED:
        view["failedAt"] = record.get("failedAt")
        view["error"] = _error_view(record.get("error") or {})
    return {k: v for k, v in view.items() if v is not None}
