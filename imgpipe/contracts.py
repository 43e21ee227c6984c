"""The payloads between the state machine and the steps, as the ASL builds them.

TypedDicts cost nothing at run time (a Lambda cold start pays no validation library) and let a
type checker hold the ASL's `Parameters`/`ResultSelector` blocks and the step logic to one shape.
The state machine is the only producer of these inputs, so a missing key is a bug in the
definition, not bad user input; it surfaces as a KeyError in the FAILED record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict


class S3Source(TypedDict):
    bucket: str
    key: str
    size: int
    eTag: str


class ResizeInput(TypedDict):
    imageId: str
    source: S3Source


class Intermediate(TypedDict):
    name: str
    key: str  # one object holds every rendition of an image, each at [offset, offset + length)
    offset: NotRequired[int]  # absent: the whole object (written before intermediates were packed)
    length: NotRequired[int]
    width: int
    height: int


class ResizeOutput(TypedDict):
    original: dict[str, Any]  # imgpipe.image.core.SourceInfo.to_dict() plus the key
    intermediates: list[Intermediate]


class WatermarkInput(TypedDict):
    imageId: str
    intermediates: list[Intermediate]


class RenditionRecord(TypedDict):
    name: str
    key: str
    width: int
    height: int
    format: str
    contentType: str
    bytes: int
    watermarked: bool


class WatermarkOutput(TypedDict):
    renditions: list[RenditionRecord]


class MetadataInput(TypedDict):
    imageId: str
    objectVersion: str
    executionId: str
    original: dict[str, Any]
    renditions: list[RenditionRecord]


class MetadataOutput(TypedDict):
    status: str  # COMPLETE; SUPERSEDED when a newer upload owns the record; DELETED when it was deleted


class StreamChange(TypedDict):
    """The ``dynamodb`` part of a stream record (view type NEW_AND_OLD_IMAGES)."""

    SequenceNumber: str
    Keys: dict[str, Any]
    NewImage: NotRequired[dict[str, Any]]  # absent for a REMOVE
    OldImage: NotRequired[dict[str, Any]]  # absent for an INSERT


class StreamRecord(TypedDict):
    eventName: str  # INSERT, MODIFY, REMOVE
    dynamodb: StreamChange


class StreamEvent(TypedDict):
    """What Lambda's event source mapping (and the local stream reader) hands the events function."""

    Records: list[StreamRecord]


class BatchItemFailure(TypedDict):
    itemIdentifier: str  # the record's SequenceNumber: the mapping retries from there


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


def utc_now(at: datetime | None = None) -> str:
    """The records' timestamp format (UTC, whole seconds), of ``at`` or of now."""
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
