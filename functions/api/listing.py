"""GET /images: the caller's images, newest first, a page at a time from the owner index."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

from imgpipe.adapters import PageKey
from imgpipe.config import AWAITING_UPLOAD, COMPLETE, EXPIRED, FAILED, PROCESSING

from .logic import IMAGE_ID, Api, BadRequest, displayed_status, is_live

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
    if not (isinstance(image_id, str) and IMAGE_ID.fullmatch(image_id)):
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
    if not is_live(record, now):
        return None  # the index is eventually consistent: a just-deleted image can linger a moment
    status, _ = displayed_status(record, api.settings, now)
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
