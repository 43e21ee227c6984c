"""Metadata: the finished image record in DynamoDB (status COMPLETE)."""

from __future__ import annotations

from imgpipe.adapters import DeletedImage, ImageRepository, StaleExecution
from imgpipe.config import COMPLETE, DELETED
from imgpipe.contracts import MetadataInput, MetadataOutput, utc_now


def record_image(event: MetadataInput, images: ImageRepository, now: str | None = None) -> MetadataOutput:
    now = now or utc_now()
    fields = {
        "status": COMPLETE,
        "original": event["original"],
        "renditions": event["renditions"],
        "executionId": event["executionId"],
        "completedAt": now,
        "updatedAt": now,
    }
    try:
        images.complete(event["imageId"], event["objectVersion"], fields)
    except StaleExecution:
        # A newer upload of this image owns the record; its own execution will write it.
        return {"status": "SUPERSEDED"}
    except DeletedImage:
        # Deleted while it was processed: the tombstone stays, and the renditions are gone (the
        # delete swept them, or the watermark step discarded what it wrote after the delete).
        return {"status": DELETED}
    return {"status": COMPLETE}
