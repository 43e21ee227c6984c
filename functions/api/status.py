"""GET /images/{imageId}: an image as its owner may see it, with the failure of an execution that
ended without recording one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imgpipe.config import COMPLETE, EXPRESS_MAX_DURATION_S, FAILED, PROCESSING
from imgpipe.contracts import utc_now
from imgpipe.errors import PUBLIC_ERRORS, public_error

from .logic import IMAGE_ID, Api, displayed_status, is_live, visible_to

STUCK_GRACE_S = 30
STUCK_MESSAGE = PUBLIC_ERRORS["PROCESSING_TIMEOUT"]


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


def _stuck(record: dict[str, Any], now: datetime) -> bool:
    """An Express execution lives at most EXPRESS_MAX_DURATION_S; one that hit that limit, or failed
    with an error no Catch can handle (States.Runtime), ended without recording anything."""
    if record.get("status") != PROCESSING or not record.get("startedAt") or not record.get("executionId"):
        return False
    started = datetime.fromisoformat(record["startedAt"].replace("Z", "+00:00"))
    return (now - started).total_seconds() > EXPRESS_MAX_DURATION_S + STUCK_GRACE_S


def current_record(api: Api, image_id: str, *, owner: str, now: datetime) -> dict[str, Any] | None:
    """The image's record as this caller may see it now (None: unknown, malformed, another owner's,
    deleted or past its TTL), a stuck PROCESSING record first marked FAILED."""
    if not IMAGE_ID.fullmatch(image_id):
        return None
    record = api.images.get(image_id)
    if not visible_to(record, owner, now) or not is_live(record, now):
        return None
    if _stuck(record, now):
        error = {"code": "PROCESSING_TIMEOUT", "cause": STUCK_MESSAGE}
        stamp = utc_now(now)
        if api.images.fail_stale(image_id, record["executionId"], error, stamp):
            record = {**record, "status": FAILED, "error": error, "failedAt": stamp}
        else:  # the execution finished after all, between our read and our write
            record = api.images.get(image_id) or record
    return record


def image_status(api: Api, image_id: str, *, owner: str, now: datetime | None = None) -> dict[str, Any] | None:
    now = now or datetime.now(UTC)
    record = current_record(api, image_id, owner=owner, now=now)
    if record is None:
        return None
    status, expires = displayed_status(record, api.settings, now)
    view: dict[str, Any] = {
        "imageId": image_id,
        "status": status,
        "createdAt": record.get("createdAt"),
        "updatedAt": record.get("updatedAt"),
        "executionId": execution_reference(record.get("executionId")),
        "upload": record.get("upload"),
    }
    if expires is not None:  # until the record's TTL removes it, an unused URL says when it expired
        view["expiresAt"] = utc_now(expires)
    if record.get("original"):
        view["original"] = record["original"]
    if status == COMPLETE:
        view["completedAt"] = record.get("completedAt")
        view["renditions"] = api.rendition_delivery().with_urls(record.get("renditions", []), now)
    if status == FAILED:
        view["failedAt"] = record.get("failedAt")
        view["error"] = _error_view(record.get("error") or {})
    return {k: v for k, v in view.items() if v is not None}
