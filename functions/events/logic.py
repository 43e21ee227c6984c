"""Events: the table's changes -> ImageProcessed / ImageFailed / ImageDeleted on EventBridge.

A batch holds one shard's changes in order.  The events it calls for are published in that order;
if EventBridge refuses one, that record and every later one are reported as failed, so the event
source mapping retries from it (and events of one image never overtake each other).
"""

from __future__ import annotations

from imgpipe.adapters import Event, EventPublisher, decode_item
from imgpipe.contracts import BatchResponse, StreamEvent
from imgpipe.events import RenditionLinks, event_for_change


def publish_changes(event: StreamEvent, publisher: EventPublisher, links: RenditionLinks | None) -> BatchResponse:
    pending: list[tuple[str, Event]] = []  # (the record's sequence number, its event)
    for record in event["Records"]:
        change = record["dynamodb"]
        old = decode_item(change["OldImage"]) if "OldImage" in change else None
        new = decode_item(change["NewImage"]) if "NewImage" in change else None
        found = event_for_change(old, new, links)
        if found is not None:
            pending.append((change["SequenceNumber"], found))
    accepted = publisher.publish([event for _, event in pending])
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence, _ in pending[accepted:]]}
