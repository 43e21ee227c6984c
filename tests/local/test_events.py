"""The image events, received as an application receives them: a rule on the local bus with the
pattern of docs/events.md and an SQS target.  Every event must validate against its published schema
(docs/schemas/), and a redelivered upload event must not publish a second ImageProcessed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from imgpipe import event_tail
from imgpipe.client import Client
from imgpipe.errors import public_error
from imgpipe.history import local_history
from imgpipe.local.pipeline import LocalPipeline
from imgpipe.paths import checkout_root

from .conftest import poll

SCHEMAS = checkout_root() / "docs" / "schemas"


def validator(detail_type: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{detail_type}.json").read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


class Subscriber:
    """A queue subscribed to the image events, keeping what it received by image id."""

    def __init__(self, stack: LocalPipeline, subscription: event_tail.Subscription):
        self._sqs = stack.client("sqs")
        self._subscription = subscription
        self._received: list[dict[str, Any]] = []

    def of(self, image_id: str) -> list[dict[str, Any]]:
        self._received += event_tail.receive(self._sqs, self._subscription, wait_s=0)
        return [e for e in self._received if e["detail"].get("imageId") == image_id]

    def wait_for(self, image_id: str, detail_type: str) -> list[dict[str, Any]]:
        """All events of the image once one of ``detail_type`` is among them."""
        return poll(
            lambda: (found := self.of(image_id)) and any(e["detail-type"] == detail_type for e in found) and found
        )


@pytest.fixture(scope="module")
def subscriber(stack: LocalPipeline) -> Iterator[Subscriber]:
    with event_tail.subscribed(stack.client("events"), stack.client("sqs"), "default", name="test-events") as sub:
        yield Subscriber(stack, sub)


def test_a_processed_image_publishes_one_event_with_its_renditions(
    subscriber: Subscriber, client: Client, photo: bytes
):
    image_id = client.upload("sunset.jpg", photo, "image/jpeg")
    view = client.wait(image_id)
    (event,) = subscriber.wait_for(image_id, "ImageProcessed")

    assert event["source"] == "imgpipe" and event["detail-type"] == "ImageProcessed"
    validator("ImageProcessed").validate(event["detail"])
    detail = event["detail"]
    assert detail["status"] == "COMPLETE" and detail["filename"] == "sunset.jpg" and detail["owner"] == "shared"
    assert detail["contentType"] == "image/jpeg"
    assert (detail["source"]["width"], detail["source"]["height"]) == (1800, 1200)
    # The same stable URLs the API gives (delivery cdn), and they serve the renditions.
    assert [(r["name"], r["key"], r["url"]) for r in detail["renditions"]] == [
        (r["name"], r["key"], r["url"]) for r in view["renditions"]
    ]
    with urllib.request.urlopen(detail["renditions"][0]["url"], timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"


def test_a_failed_image_publishes_its_public_error(subscriber: Subscriber, client: Client):
    image_id = client.upload("notes.jpg", b"not a picture at all\n" * 20, "image/jpeg")
    assert client.wait(image_id)["status"] == "FAILED"
    (event,) = subscriber.wait_for(image_id, "ImageFailed")

    validator("ImageFailed").validate(event["detail"])
    detail = event["detail"]
    assert detail["error"] == public_error("NOT_AN_IMAGE")  # what the API shows, never the raw cause
    assert client.image(image_id)["error"]["code"] == "NOT_AN_IMAGE"
    assert detail["renditions"] == [] and detail["contentType"] == "image/jpeg"


def test_a_redelivered_upload_event_publishes_nothing_more(
    stack: LocalPipeline, subscriber: Subscriber, client: Client, photo: bytes
):
    image_id = client.upload("twice.jpg", photo, "image/jpeg")
    client.wait(image_id)
    subscriber.wait_for(image_id, "ImageProcessed")
    sfn = stack.client("stepfunctions")
    (first,) = local_history(sfn, stack.names.state_machine_arn, image_id)
    started = sfn.get_execution_history(executionArn=first.arn, maxResults=1)["events"][0]
    sqs = stack.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=stack.names.queue)["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=started["executionStartedEventDetails"]["input"])
    duplicate = poll(
        lambda: next(
            (
                s
                for s in local_history(sfn, stack.names.state_machine_arn, image_id)
                if s.arn != first.arn and s.status != "RUNNING"
            ),
            None,
        )
    )
    assert duplicate.states[-1].name == "DuplicateDelivery"

    # The image's events are published in the order of its record's changes: anything the duplicate
    # caused would come before the ImageDeleted this delete publishes.
    client.delete(image_id)
    events = subscriber.wait_for(image_id, "ImageDeleted")
    assert [e["detail-type"] for e in events] == ["ImageProcessed", "ImageDeleted"]


def test_a_delete_publishes_image_deleted(subscriber: Subscriber, client: Client, photo: bytes):
    image_id = client.upload("gone.jpg", photo, "image/jpeg")
    client.wait(image_id)
    client.delete(image_id)
    event = subscriber.wait_for(image_id, "ImageDeleted")[-1]
    validator("ImageDeleted").validate(event["detail"])
    assert event["detail"]["filename"] == "gone.jpg"


def test_imgpipe_events_prints_each_event_as_a_json_line(stack: LocalPipeline, client: Client, photo: bytes):
    command = [sys.executable, "-m", "imgpipe.cli", "events", "--count", "1", "--endpoint-url", stack.aws_endpoint]
    command += ["--detail-type", "ImageProcessed"]
    tail = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert tail.stderr is not None and "listening on bus default" in tail.stderr.readline()
        image_id = client.upload("tailed.jpg", photo, "image/jpeg")
        out, _ = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
    (line,) = out.splitlines()
    event = json.loads(line)
    assert event["detail-type"] == "ImageProcessed" and event["detail"]["imageId"] == image_id
    rules = stack.client("events").list_rules()["Rules"]
    assert not [r for r in rules if r["Name"].startswith("imgpipe-events-tail-")]  # it cleaned up


def test_the_events_function_retries_from_the_first_event_it_could_not_publish(stack: LocalPipeline, client, photo):
    """EventBridge refusing the first attempt: the stream batch is delivered again and the event
    arrives all the same (the image itself is COMPLETE either way)."""
    refused = threading.Event()

    def refuse_once(real, event, context):
        """As the function answers when PutEvents refuses its first entry: retry from that record."""
        ours = [r for r in event["Records"] if "retried.jpg" in json.dumps(r["dynamodb"].get("NewImage"))]
        if ours and not refused.is_set():
            refused.set()
            return {"batchItemFailures": [{"itemIdentifier": ours[0]["dynamodb"]["SequenceNumber"]}]}
        return real(event, context)

    with event_tail.subscribed(stack.client("events"), stack.client("sqs"), "default", name="test-retry") as sub:
        subscriber = Subscriber(stack, sub)
        with stack.lambdas.override("events", refuse_once):
            image_id = client.upload("retried.jpg", photo, "image/jpeg")
            assert client.wait(image_id)["status"] == "COMPLETE"
            (event,) = subscriber.wait_for(image_id, "ImageProcessed")
    assert refused.is_set()
    validator("ImageProcessed").validate(event["detail"])
