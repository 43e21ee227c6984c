"""Execution history, step by step: states entered and exited, retries, errors, durations.

Works on events shaped like the Step Functions ``GetExecutionHistory`` API, whichever way they were
obtained: from the local emulator (which serves that API) or, on AWS, rebuilt from the Express
state machine's CloudWatch log group (imgpipe.cloudwatch_history).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imgpipe.config import TABLE_KEY
from imgpipe.errors import message_from_cause

Event = dict[str, Any]

_END_TYPES = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


@dataclass
class StateRun:
    name: str
    kind: str  # Task, Pass, Succeed, Fail, …
    entered: datetime
    exited: datetime | None = None
    attempts: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (error, cause) per failed attempt

    @property
    def duration_ms(self) -> float | None:
        return None if self.exited is None else (self.exited - self.entered).total_seconds() * 1000


@dataclass
class ExecutionSummary:
    arn: str
    status: str
    started: datetime | None
    stopped: datetime | None
    image_id: str | None
    states: list[StateRun]
    error: str | None = None
    cause: str | None = None

    @property
    def duration_ms(self) -> float | None:
        if self.started is None or self.stopped is None:
            return None
        return (self.stopped - self.started).total_seconds() * 1000


def _details(event: Event) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def image_id_of(execution_input: str | None) -> str | None:
    """The image an execution processed, read from its input event's object key."""
    try:
        key: str = json.loads(execution_input or "{}")["detail"]["object"]["key"]
        return key.split("/")[1]
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def summarise(arn: str, events: Iterable[Event]) -> ExecutionSummary:
    events = sorted(events, key=lambda e: e["id"])
    states: list[StateRun] = []
    summary = ExecutionSummary(arn, "RUNNING", None, None, None, states)
    current: StateRun | None = None
    for event in events:
        kind: str = event["type"]
        details = _details(event)
        if kind == "ExecutionStarted":
            summary.started = event["timestamp"]
            summary.image_id = image_id_of(details.get("input"))
        elif kind in _END_TYPES:
            summary.status = _END_TYPES[kind]
            summary.stopped = event["timestamp"]
            summary.error, summary.cause = details.get("error"), details.get("cause")
        elif kind.endswith("StateEntered"):
            current = StateRun(details.get("name", "?"), kind[: -len("StateEntered")], event["timestamp"])
            states.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited = event["timestamp"]
        elif current is not None and kind.endswith("Scheduled"):
            current.attempts += 1
        elif current is not None and kind.endswith(("Failed", "TimedOut")) and kind not in _END_TYPES:
            current.failures.append((details.get("error", kind), details.get("cause", "")))
    return summary


def _short_cause(cause: str | None, limit: int = 120) -> str:
    cause = " ".join(message_from_cause(cause).split())
    return cause if len(cause) <= limit else cause[: limit - 1] + "…"


def _ms(value: float | None) -> str:
    return "     -" if value is None else f"{value:7.0f} ms"


def format_summary(summary: ExecutionSummary) -> str:
    name = summary.arn.rsplit(":", 1)[-1]
    lines = [
        f"execution {name}  {summary.status}  image {summary.image_id or '?'}  total{_ms(summary.duration_ms)}",
    ]
    for state in summary.states:
        retries = max(0, state.attempts - 1)
        note = f"  retried {retries}x" if retries else ""
        lines.append(f"  {state.name:<18} {state.kind:<8}{_ms(state.duration_ms)}{note}")
        for error, cause in state.failures:
            lines.append(f"      ! {error}: {_short_cause(cause)}")
    if summary.error:
        lines.append(f"  => {summary.error}: {_short_cause(summary.cause)}")
    return "\n".join(lines)


# ---- sources ----------------------------------------------------------------------------------
def execution_history(sfn: Any, execution_arn: str) -> ExecutionSummary:
    events: list[Event] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return summarise(execution_arn, events)


def image_history(sfn: Any, dynamodb: Any, table: str, image_id: str) -> list[ExecutionSummary]:
    """The execution that owns the image's record (ClaimImage stores its ARN there): one lookup and
    one history, however many executions are stored.  Empty if the image has no record or no
    execution yet.  Redelivered duplicates, which never touch the record, are listed by
    ``local_history``."""
    item = dynamodb.get_item(TableName=table, Key={TABLE_KEY: {"S": image_id}}, ProjectionExpression="executionId").get(
        "Item"
    )
    execution_arn = (item or {}).get("executionId", {}).get("S")
    return [execution_history(sfn, execution_arn)] if execution_arn else []


def local_history(sfn: Any, state_machine_arn: str, image_id: str | None = None) -> list[ExecutionSummary]:
    """Executions of the local state machine, oldest first, optionally only those of one image
    (found by describing every execution: ``image_history`` is the quick way to an image's)."""
    summaries = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for execution in page["executions"]:
            arn = execution["executionArn"]
            # The input names the image: read it before fetching a whole history.
            if image_id is not None and image_id_of(sfn.describe_execution(executionArn=arn).get("input")) != image_id:
                continue
            summaries.append(execution_history(sfn, arn))
    return sorted(summaries, key=lambda s: (s.started is None, s.started.timestamp() if s.started else 0))
