"""``imgpipe events``: follow the image events on a bus, as a subscriber would receive them.

It subscribes the way an application does: a rule on the bus with the pattern of docs/events.md and
an SQS queue as its target (the queue's policy lets only that rule send to it).  Each event is
printed as one JSON line, the whole EventBridge envelope.  Rule and queue are its own, named after
the process, and removed when it stops; locally they live in the emulator, on AWS in the account.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from imgpipe.config import EVENT_SOURCE, IMAGE_DELETED, IMAGE_FAILED, IMAGE_PROCESSED

DETAIL_TYPES = (IMAGE_PROCESSED, IMAGE_FAILED, IMAGE_DELETED)


def event_pattern(detail_types: tuple[str, ...] = DETAIL_TYPES) -> dict[str, list[str]]:
    return {"source": [EVENT_SOURCE], "detail-type": list(detail_types)}


@dataclass
class Subscription:
    rule: str
    queue_url: str


@contextmanager
def subscribed(
    events: Any, sqs: Any, bus: str, detail_types: tuple[str, ...] = DETAIL_TYPES, name: str | None = None
) -> Iterator[Subscription]:
    """A rule on ``bus`` sending the image events to a new queue, both removed on exit."""
    name = name or f"imgpipe-events-tail-{os.getpid()}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(
            Name=name, EventBusName=bus, EventPattern=json.dumps(event_pattern(detail_types)), State="ENABLED"
        )["RuleArn"]
        try:
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                    }
                ],
            }
            sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
            events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tail", "Arn": queue_arn}])
            yield Subscription(name, queue_url)
        finally:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["tail"])
            events.delete_rule(Name=name, EventBusName=bus)
    finally:
        sqs.delete_queue(QueueUrl=queue_url)


def receive(sqs: Any, subscription: Subscription, wait_s: int = 1) -> list[dict[str, Any]]:
    """The events that arrived (each deleted from the queue once read), oldest first."""
    response = sqs.receive_message(QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    found = []
    for message in response.get("Messages", []):
        found.append(json.loads(message["Body"]))
        sqs.delete_message(QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def tail(
    sqs: Any,
    subscription: Subscription,
    emit: Callable[[dict[str, Any]], None],
    stop: threading.Event,
    count: int | None = None,
) -> int:
    """Emit events until ``stop`` is set or ``count`` have arrived; how many were emitted."""
    emitted = 0
    while not stop.is_set() and (count is None or emitted < count):
        for event in receive(sqs, subscription):
            if count is not None and emitted == count:
                break
            emit(event)
            emitted += 1
    return emitted
