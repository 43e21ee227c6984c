"""The image events (docs/events.md): ``ImageProcessed``, ``ImageFailed``, ``ImageDeleted``.

They are derived from the image records, not sent by the steps that write them: the table's stream
carries every change to the events function (functions/events), which publishes one event when a
record's status turns COMPLETE, FAILED or DELETED.  So every way an image ends is told — the
workflow's result, a FAILED/PROCESSING_TIMEOUT marked by the API, a delete — and telling can never
change how it ended: a publish that fails is retried from the stream, outside the workflow.
Delivery is at least once and every detail carries ``imageId``, which is what consumers
de-duplicate on.

Rendition URLs go into an event only when they are stable (delivery ``cdn``).  A presigned URL would
be dead by the time a slow consumer, a retry or an archive replay reads the event; with
``presigned`` delivery events carry each rendition's ``key`` and consumers ask the API
(``GET /images/{imageId}``) for a fresh URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from imgpipe.config import (
    COMPLETE,
    DELETED,
    FAILED,
    IMAGE_DELETED,
    IMAGE_FAILED,
    IMAGE_PROCESSED,
    SHARED_OWNER,
    PipelineSettings,
)
from imgpipe.errors import public_error

# What an event says about each rendition: enough to use it without another call.
RENDITION_FIELDS = ("name", "key", "width", "height", "format", "contentType", "bytes")
DETAIL_TYPES = {COMPLETE: IMAGE_PROCESSED, FAILED: IMAGE_FAILED, DELETED: IMAGE_DELETED}


class RenditionLinks(Protocol):
    def link(self, key: str) -> dict[str, str]: ...


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _common(record: Mapping[str, Any], status: str) -> dict[str, Any]:
    upload = record.get("upload") or {}
    return {
        "imageId": record["imageId"],
        "status": status,
        "owner": record.get("owner", SHARED_OWNER),
        "filename": upload.get("filename"),
        "createdAt": record.get("createdAt"),
    }


def processed_detail(record: Mapping[str, Any], links: RenditionLinks | None) -> dict[str, Any]:
    """``ImageProcessed``: the COMPLETE record as a subscriber needs it.  ``links`` makes stable
    URLs (delivery ``cdn``); None leaves them out (``presigned``: see the module docstring)."""
    original = record.get("original") or {}
    renditions = []
    for rendition in record.get("renditions") or []:
        item = {name: rendition[name] for name in RENDITION_FIELDS if name in rendition}
        if links is not None:
            item |= links.link(rendition["key"])
        renditions.append(item)
    return _without_none(
        {
            **_common(record, COMPLETE),
            "contentType": original.get("mime"),  # sniffed from the bytes, not the client's claim
            "completedAt": record.get("completedAt"),
            "renditions": renditions,
            "source": _without_none(original),
        }
    )


def failed_detail(record: Mapping[str, Any]) -> dict[str, Any]:
    """``ImageFailed``: the error as the API shows it (a public code and its fixed message)."""
    upload = record.get("upload") or {}
    source = record.get("source") or {}
    error = record.get("error") or {}
    return _without_none(
        {
            **_common(record, FAILED),
            "contentType": upload.get("declaredType"),  # as declared: the bytes may be no image at all
            "failedAt": record.get("failedAt"),
            "renditions": [],
            "error": public_error(error.get("code")),
            "source": _without_none(
                {"key": source.get("key") or upload.get("key"), "bytes": upload.get("declaredSize")}
            ),
        }
    )


def deleted_detail(record: Mapping[str, Any]) -> dict[str, Any]:
    """``ImageDeleted``: from the tombstone, written before the files are removed; the image is gone
    for every reader from that moment (its files follow within the same request)."""
    return _without_none(
        {
            "imageId": record["imageId"],
            "status": DELETED,
            "owner": record.get("owner", SHARED_OWNER),
            "filename": (record.get("upload") or {}).get("filename"),
            "deletedAt": record.get("deletedAt"),
        }
    )


def event_for_change(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, links: RenditionLinks | None
) -> tuple[str, dict[str, Any]] | None:
    """The event one write of a record calls for: (detail-type, detail) when its status turned
    COMPLETE, FAILED or DELETED; None for every other write (a claim, a rewrite of the same status,
    the tombstone's purge mark, a TTL removal)."""
    if new is None:
        return None
    status = new.get("status")
    if status not in DETAIL_TYPES or (old is not None and old.get("status") == status):
        return None
    if status == COMPLETE:
        return IMAGE_PROCESSED, processed_detail(new, links)
    if status == FAILED:
        return IMAGE_FAILED, failed_detail(new)
    return IMAGE_DELETED, deleted_detail(new)


def stable_links(settings: PipelineSettings, output_bucket: str) -> RenditionLinks | None:
    """The rendition URLs an event may carry: the API's own ``cdn`` URLs, or none at all."""
    if settings.delivery != "cdn":
        return None
    from imgpipe.delivery import RenditionDelivery

    return RenditionDelivery.from_settings(settings, output_bucket, None)
