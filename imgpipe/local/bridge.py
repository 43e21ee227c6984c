"""The EventBridge → Step Functions target, locally: one execution per delivered event.

The rule's events arrive on an SQS queue (moto's EventBridge cannot target Step Functions).  Each
message body is the event; it becomes the execution's input unchanged, as the AWS target passes
it.  A message is deleted only after StartExecution succeeded, so a failure leaves it on the queue
to be retried and, after five receives, moved to the dead-letter queue: nothing is dropped.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from typing import Any

log = logging.getLogger("imgpipe.local")


_sequence = itertools.count(1)


def as_aws_event(body: str) -> str:
    """moto's S3 event differs from the one AWS sends in two fields the state machine reads:
    AWS spells the object's ``etag`` in lower case (moto: ``eTag``) and gives every write a new,
    increasing ``sequencer`` (moto: a constant).  Deliver what AWS would."""
    event = json.loads(body)
    obj = event.get("detail", {}).get("object")
    if isinstance(obj, dict) and "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
        obj["sequencer"] = f"{time.time_ns():016X}{next(_sequence):04X}"
    return json.dumps(event)


class EventBridgeTarget:
    def __init__(
        self,
        session: Any,
        queue_url: str,
        state_machine_arn: str,
    ):
        self._sqs = session.client("sqs")
        self._sfn = session.client("stepfunctions")
        self._queue_url = queue_url
        self._state_machine_arn = state_machine_arn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventbridge-target", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_once(wait_seconds=1)
            except Exception:  # the emulator is going away, or a transient fault; keep polling
                if not self._stop.is_set():
                    log.exception("delivering events to the state machine failed; will retry")
                    self._stop.wait(0.5)

    def deliver_once(self, wait_seconds: int = 0) -> int:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = response.get("Messages", [])
        for message in messages:
            self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn,
                name=uuid.uuid4().hex,  # the AWS target names executions itself, uniquely
                input=as_aws_event(message["Body"]),
            )
            self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)
