"""Dead-lettered events, delivered again: ``imgpipe redrive [--stack NAME]``.

On AWS the dead-letter queue belongs to the EventBridge rule's target: an event EventBridge could
not deliver (StartExecution throttled or refused past the target's retry policy) lands there,
unchanged.  SQS's own redrive (``StartMessageMoveTask``) moves messages back to a *source queue* and
refuses DLQs whose source is not SQS, so redrive here does what the target would have done: for
each rule of the stack whose target has a DLQ, it starts the target's state machine with each
dead-lettered event as the execution's input (the target passes the event unchanged), and deletes
the message only once StartExecution succeeded.  An event that fails again stays in the queue.

Locally the rule delivers to an SQS queue whose redrive policy names the local DLQ, and the local
target (imgpipe.local.bridge) consumes that queue: redrive moves the messages back to it.

Redelivering is safe: an upload already processed ends as ``DuplicateDelivery`` (the state
machine's claim on the object version), so an event redriven twice does no work twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("imgpipe.redrive")

RECEIVE_BATCH = 10
# Long enough that a message whose delivery failed is not received again in this run.
VISIBILITY_TIMEOUT_S = 120


class RedriveError(Exception):
    """The dead-letter queue or its target cannot be found."""


@dataclass
class Redriven:
    source: str  # the dead-letter queue
    target: str  # where its events went
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # why, per message that stays in the queue


def drain(sqs: Any, dlq_url: str, deliver: Callable[[str], None], redriven: Redriven) -> Redriven:
    """Deliver every message of the DLQ once; delete each only after its delivery succeeded."""
    while True:
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=RECEIVE_BATCH,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_TIMEOUT_S,
        ).get("Messages", [])
        if not messages:
            return redriven
        for message in messages:
            try:
                deliver(message["Body"])
            except Exception as exc:  # stays in the DLQ (visible again after the timeout)
                redriven.failed.append(f"{message['MessageId']}: {exc}")
                continue
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            redriven.delivered += 1


# ---- locally -----------------------------------------------------------------------------------
def redrive_local(sqs: Any, dead_letter_queue: str, rule_queue: str) -> Redriven:
    """Move the local DLQ's messages back to the rule's queue, where the local target reads them."""
    dlq_url = sqs.get_queue_url(QueueName=dead_letter_queue)["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName=rule_queue)["QueueUrl"]

    def deliver(body: str) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    return drain(sqs, dlq_url, deliver, Redriven(dead_letter_queue, rule_queue))


# ---- on AWS -------------------------------------------------------------------------------------
def _queue_url(sqs: Any, queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def dead_lettered_targets(session: Any, stack_name: str) -> list[dict[str, Any]]:
    """The targets with a dead-letter queue of every EventBridge rule in the stack."""
    cloudformation = session.client("cloudformation")
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    except Exception as exc:  # botocore ClientError: "Stack with id X does not exist"
        raise RedriveError(f"cannot describe stack {stack_name}: {exc}") from exc
    events = session.client("events")
    targets = []
    for resource in resources:
        if resource["ResourceType"] != "AWS::Events::Rule":
            continue
        # A rule's physical id is its name, or "<bus>|<name>" on a custom bus.
        bus, _, name = resource["PhysicalResourceId"].rpartition("|")
        listing = events.list_targets_by_rule(Rule=name, **({"EventBusName": bus} if bus else {}))
        targets += [t for t in listing["Targets"] if (t.get("DeadLetterConfig") or {}).get("Arn")]
    return targets


def redrive_stack(session: Any, stack_name: str) -> list[Redriven]:
    targets = dead_lettered_targets(session, stack_name)
    if not targets:
        raise RedriveError(f"stack {stack_name} has no EventBridge target with a dead-letter queue")
    sqs = session.client("sqs")
    sfn = session.client("stepfunctions")
    results = []
    for target in targets:
        arn, dlq_arn = target["Arn"], target["DeadLetterConfig"]["Arn"]
        if ":states:" not in arn or any(target.get(key) for key in ("Input", "InputPath", "InputTransformer")):
            raise RedriveError(f"target {arn} is not a state machine fed the event as it is; redrive it by hand")

        def start(body: str, machine: str = arn) -> None:
            sfn.start_execution(stateMachineArn=machine, input=body)

        results.append(drain(sqs, _queue_url(sqs, dlq_arn), start, Redriven(dlq_arn, arn)))
    return results
