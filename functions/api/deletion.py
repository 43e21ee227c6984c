"""DELETE /images/{imageId}: the record becomes a tombstone first, then the image's files go."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imgpipe.config import (
    DELETED,
    DELETED_MARKER_TAG,
    OUTPUT_BUCKET_PREFIXES,
    RENDITION_PREFIX,
    TOMBSTONE_TTL_S,
    UPLOAD_PREFIX,
)
from imgpipe.contracts import utc_now

from .logic import IMAGE_ID, Api, visible_to


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
    if not IMAGE_ID.fullmatch(image_id):
        return False
    now = now or datetime.now(UTC)
    record = api.images.get(image_id)
    if not visible_to(record, owner, now):
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
