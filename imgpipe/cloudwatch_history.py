"""Execution history of the deployed (Express) workflow, read back from CloudWatch Logs.

Express executions keep no history in Step Functions: ``GetExecutionHistory`` only serves Standard
workflows.  With logging level ALL and ``includeExecutionData`` (see stacks/workflow.py) every
history event is written to the state machine's log group instead, one JSON document per event::

    {"id": "3", "type": "TaskStateEntered",
     "details": {"name": "Resize", "input": "{...}", "inputDetails": {"truncated": false}},
     "previous_event_id": "2", "event_timestamp": "1718000000123",
     "execution_arn": "arn:aws:states:...:express:...", "redrive_count": "0"}

This module turns those records back into exactly what ``GetExecutionHistory`` returns in its
``events`` list — ``{"timestamp": datetime, "type": ..., "id": int, "previousEventId": int,
"stateEnteredEventDetails": {...}}`` — so ``imgpipe history`` prints local (moto) and AWS runs the
same way.  The ``details`` of each record go under the ``<type>EventDetails`` member the API uses
for that type (``*StateEntered``/``*StateExited`` share ``stateEntered``/``stateExitedEventDetails``),
coerced to the member's shape from botocore's Step Functions model.

Log delivery is best effort (AWS documents it as such): an execution may be missing events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from imgpipe.history import image_id_of

Event = dict[str, Any]


class HistoryError(Exception):
    """The history cannot be located (no such stack, no log-group output)."""


# ---- the GetExecutionHistory shape ----------------------------------------------------------------
@cache
def _history_event_shape() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("stepfunctions").shape_for("HistoryEvent")


def details_key(event_type: str) -> str | None:
    """The ``HistoryEvent`` member that carries the details of ``event_type``, or None if that type
    has none (``MapStateSucceeded``, ``TaskStateAborted``, ...)."""
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    key = f"{event_type[:1].lower()}{event_type[1:]}EventDetails"
    return key if key in _history_event_shape().members else None


def _coerce(value: Any, shape: Any) -> Any:
    """``value`` as botocore would parse it for ``shape`` (numbers and booleans arrive as strings in
    some log records; members the API does not define are dropped, as botocore drops them)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return value
        return {
            name: _coerce(item, shape.members[name])
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "timestamp":
        return _timestamp(value)
    if kind == "list":
        return [_coerce(item, shape.member) for item in value]
    if kind == "map":
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    return value


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def convert_record(record: Mapping[str, Any]) -> Event:
    """One Express log record → one ``GetExecutionHistory`` event."""
    event: Event = {
        "timestamp": _timestamp(record["event_timestamp"]),
        "type": record["type"],
        "id": int(record["id"]),
        "previousEventId": int(record.get("previous_event_id") or 0),
    }
    key = details_key(record["type"])
    details = record.get("details")
    if key and isinstance(details, Mapping):
        event[key] = _coerce(details, _history_event_shape().members[key])
    return event


def _records(log_events: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Parsed Express records from log events (``filter_log_events`` dicts, raw messages or already
    parsed records); anything that is not an execution history record is skipped."""
    for item in log_events:
        record = item["message"] if isinstance(item, Mapping) and "message" in item else item
        if isinstance(record, (str, bytes)):
            try:
                record = json.loads(record)
            except ValueError:
                continue
        if isinstance(record, Mapping) and {"execution_arn", "type", "id", "event_timestamp"} <= record.keys():
            yield dict(record)


def executions_from_logs(log_events: Iterable[Any]) -> dict[str, list[Event]]:
    """Group Express log events by execution ARN, converted and ordered by event id (duplicates,
    which at-least-once log delivery can produce, are dropped)."""
    executions: dict[str, dict[int, Event]] = {}
    for record in _records(log_events):
        event = convert_record(record)
        executions.setdefault(record["execution_arn"], {}).setdefault(event["id"], event)
    return {arn: [events[i] for i in sorted(events)] for arn, events in executions.items()}


def execution_input(events: list[Event]) -> str | None:
    """The execution's input as logged by its ``ExecutionStarted`` event (None if not logged)."""
    for event in events:
        if event["type"] == "ExecutionStarted":
            logged: str | None = event.get("executionStartedEventDetails", {}).get("input")
            return logged
    return None


# ---- reading the log group ----------------------------------------------------------------------
def find_log_group(stack_name: str, cfn_client: Any, output_key: str) -> str:
    """The state machine's log group, from the stack's output ``output_key`` (the CLI passes
    ``topology.STATE_MACHINE_LOG_GROUP_OUTPUT``: this module also ships to Lambda, topology does not)."""
    try:
        stacks = cfn_client.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as exc:  # botocore ClientError: "Stack with id X does not exist"
        raise HistoryError(f"cannot describe stack {stack_name}: {exc}") from exc
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == output_key:
            log_group: str = output["OutputValue"]
            return log_group
    raise HistoryError(f"stack {stack_name} has no {output_key} output (is it an imgpipe stack?)")


def _filter_log_events(logs_client: Any, log_group: str, pattern: str | None, **window: Any) -> Iterator[Event]:
    kwargs: dict[str, Any] = {"logGroupName": log_group, **{k: v for k, v in window.items() if v is not None}}
    if pattern:
        kwargs["filterPattern"] = pattern
    for page in logs_client.get_paginator("filter_log_events").paginate(**kwargs):
        yield from page.get("events", [])


def fetch_history(
    logs_client: Any,
    log_group: str,
    image_id: str | None = None,
    *,
    start_time: int | None = None,
    end_time: int | None = None,
) -> dict[str, list[Event]]:
    """Executions (ARN → events) logged in ``log_group``; with ``image_id`` only those whose input
    (the S3 event, whose object key is ``uploads/<imageId>/...``) contains it.

    With an image id the search runs server-side in two passes: the log events mentioning the id
    (which include each matching execution's ``ExecutionStarted`` record, the one carrying the
    input), then all events of each execution found.  ``start_time``/``end_time`` are epoch ms.
    """
    window = {"startTime": start_time, "endTime": end_time}
    if image_id is None:
        return executions_from_logs(_filter_log_events(logs_client, log_group, None, **window))
    if not image_id or '"' in image_id:
        raise ValueError(f"invalid image id {image_id!r}")

    mentions = executions_from_logs(_filter_log_events(logs_client, log_group, f'"{image_id}"', **window))
    # The filter matched the id anywhere in an event; keep the executions that processed that image.
    matching = [arn for arn, events in mentions.items() if image_id_of(execution_input(events)) == image_id]
    return {
        arn: fetch_execution(logs_client, log_group, arn, start_time=start_time, end_time=end_time) or mentions[arn]
        for arn in matching
    }


def fetch_execution(
    logs_client: Any,
    log_group: str,
    execution_arn: str,
    *,
    start_time: int | None = None,
    end_time: int | None = None,
) -> list[Event]:
    """One execution's events, ordered (empty if none is logged yet): every record names its
    execution, so one server-side filter on the ARN finds them.  ``start_time``/``end_time`` (epoch
    ms) bound the scan; without them it reads the whole log group."""
    if '"' in execution_arn:
        raise ValueError(f"invalid execution ARN {execution_arn!r}")
    window = {"startTime": start_time, "endTime": end_time}
    logged = _filter_log_events(logs_client, log_group, f'"{execution_arn}"', **window)
    return executions_from_logs(logged).get(execution_arn, [])


def _started(events: list[Event]) -> datetime:
    return events[0]["timestamp"] if events else datetime.min.replace(tzinfo=UTC)


def load(
    stack_name: str,
    image_id: str | None = None,
    session: Any = None,
    *,
    output_key: str,
    start_time: int | None = None,
) -> list[tuple[str, list[Event]]]:
    """The executions of the deployed stack ``stack_name`` (optionally only those of ``image_id``),
    oldest first, each as ``(execution_arn, GetExecutionHistory-shaped events)``; ``output_key`` is
    the stack output naming the log group (see ``find_log_group``)."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    log_group = find_log_group(stack_name, session.client("cloudformation"), output_key)
    executions = fetch_history(session.client("logs"), log_group, image_id, start_time=start_time)
    return sorted(executions.items(), key=lambda item: (_started(item[1]), item[0]))
