"""GET /images/{imageId}/execution: the workflow's steps for one image, like the console's execution view.

The events come from wherever the runtime keeps them (imgpipe.adapters.ExecutionHistory) and are
summarised by the same imgpipe.history code as ``imgpipe history``; what reaches the caller is told in
public terms only: state names, types, statuses, timings and error codes, never inputs, outputs,
causes or ARNs (imgpipe.errors.public_error).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from imgpipe.config import COMPLETE, FAILED, PROCESSING
from imgpipe.errors import public_error

from .logic import Api, displayed_status
from .status import current_record

if TYPE_CHECKING:
    from imgpipe.adapters import ExecutionHistory
    from imgpipe.history import StateRun

SUCCEEDED_STEP, FAILED_STEP = "SUCCEEDED", "FAILED"


class NoExecution(Exception):
    """The image exists but no execution has processed it (AWAITING_UPLOAD, EXPIRED)."""


def _iso_ms(at: datetime | None) -> str | None:
    return None if at is None else at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _step_status(state: StateRun, execution_status: str) -> str:
    if state.failures and len(state.failures) >= state.attempts:  # its last attempt failed (caught or not)
        return FAILED_STEP
    if state.kind == "Fail":
        return FAILED_STEP
    if state.exited is not None or state.kind == "Succeed":
        return SUCCEEDED_STEP
    # Not exited: still running, unless the execution has ended (then it ended with it).
    return execution_status


def _step_view(state: StateRun, execution_status: str) -> dict[str, Any]:
    view = {
        "name": state.name,
        "type": state.kind,
        "status": _step_status(state, execution_status),
        "enteredAt": _iso_ms(state.entered),
        "durationMs": None if state.duration_ms is None else round(state.duration_ms),
        "attempts": state.attempts,
        "retries": max(0, state.attempts - 1),
        # One public code per failed attempt: the image's own, or INTERNAL_ERROR for ours (a retried
        # throttle, a timeout); the raw error names and causes stay with operators.
        "errors": [public_error(error)["code"] for error, _ in state.failures],
    }
    return {k: v for k, v in view.items() if v is not None}


def image_execution(
    api: Api, image_id: str, history: ExecutionHistory, *, owner: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """The steps of the execution that processed the image: each state's status, duration, retries
    and errors.  None when the image does not exist for this caller (as GET /images/{imageId});
    NoExecution before one has started.  On AWS the events reach the log group a few seconds late:
    until its end is logged the execution reads RUNNING, with the steps logged so far."""
    from imgpipe.history import summarise  # only this route pays for its import (~3 ms of a cold start)

    now = now or datetime.now(UTC)
    record = current_record(api, image_id, owner=owner, now=now)  # one read, as GET /images/{imageId}
    if record is None:
        return None
    status, _ = displayed_status(record, api.settings, now)
    arn, started = record.get("executionId"), _record_time(record.get("startedAt"))
    if status not in (PROCESSING, COMPLETE, FAILED) or not arn or started is None:
        raise NoExecution(status)
    stopped = _record_time(record.get("completedAt") or record.get("failedAt"))
    summary = summarise(arn, history.events(arn, started, stopped))
    view: dict[str, Any] = {
        "imageId": image_id,
        "status": summary.status,
        "startedAt": _iso_ms(summary.started),
        "stoppedAt": _iso_ms(summary.stopped),
        "durationMs": None if summary.duration_ms is None else round(summary.duration_ms),
        "steps": [_step_view(state, summary.status) for state in summary.states],
    }
    if summary.error:
        view["error"] = public_error(summary.error)
    return {k: v for k, v in view.items() if v is not None}
