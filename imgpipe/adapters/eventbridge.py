"""Image events on EventBridge."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from imgpipe.adapters.aws import aws_client, classify

log = logging.getLogger(__name__)

# One event: (detail-type, detail).
Event = tuple[str, dict[str, Any]]
MAX_EVENTS_PER_CALL = 10  # PutEvents' limit


class EventPublisher(Protocol):
    def publish(self, events: list[Event]) -> int:
        """Publish in order; how many of the first ones were accepted (all of them: len(events))."""
        ...


@dataclass
class EventBridgePublisher:
    """EventPublisher on an EventBridge bus, one PutEvents call per ten events."""

    bus_name: str
    source: str

    @cached_property
    def client(self) -> Any:
        return aws_client("events")

    def publish(self, events: list[Event]) -> int:
        import json

        accepted = 0
        for start in range(0, len(events), MAX_EVENTS_PER_CALL):
            entries = [
                {
                    "Source": self.source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus_name,
                }
                for detail_type, detail in events[start : start + MAX_EVENTS_PER_CALL]
            ]
            try:
                response = self.client.put_events(Entries=entries)
            except Exception as exc:
                log.warning("PutEvents failed: %s", classify(exc))
                return accepted
            # PutEvents answers 200 and marks each refused entry with its own ErrorCode.
            for entry in response.get("Entries", []):
                if entry.get("ErrorCode"):
                    log.warning("event not accepted: %s %s", entry.get("ErrorCode"), entry.get("ErrorMessage"))
                    return accepted
                accepted += 1
        return accepted
