"""GET /images/{imageId}/execution: an execution's steps from its history, told in public terms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.api.execution import NoExecution, image_execution
from functions.api.logic import Api
from imgpipe import config
from imgpipe.errors import PUBLIC_ERRORS
from tests.fakes import FakeImages, NoPresigner

ARN = "arn:aws:states:us-east-1:123456789012:express:Imgpipe-pipeline:3f1c2a9b:3f1c2a9b"
T0 = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
IMAGE_ID = "c" * 32


class FakeHistory:
    """An ``imgpipe.adapters.ExecutionHistory`` serving fixed events, recording what it was asked."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.served = events
        self.asked: list[tuple[str, datetime, datetime | None]] = []

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]:
        self.asked.append((execution_arn, started, stopped))
        return self.served


class Events:
    """GetExecutionHistory events, one per call, ``ms`` after T0."""

    def __init__(self) -> None:
        self.list: list[dict[str, Any]] = []

    def add(self, kind: str, ms: int, **details: Any) -> Events:
        event: dict[str, Any] = {"id": len(self.list) + 1, "type": kind, "timestamp": T0 + timedelta(milliseconds=ms)}
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = details
        elif kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = details
        elif details:
            event[f"{kind[0].lower()}{kind[1:]}EventDetails"] = details
        self.list.append(event)
        return self


def succeeded_with_a_retry() -> list[dict[str, Any]]:
    throttled = json.dumps({"errorType": "TransientError", "errorMessage": "SlowDown: s3://imgpipe-out/work/x"})
    e = Events()
    e.add("ExecutionStarted", 0, input="{}")
    e.add("PassStateEntered", 1, name="ParseEvent").add("PassStateExited", 2, name="ParseEvent")
    e.add("TaskStateEntered", 2, name="Resize")
    e.add("TaskScheduled", 3).add("TaskFailed", 40, error="TransientError", cause=throttled)
    e.add("TaskScheduled", 240).add("TaskSucceeded", 600, output="{}")
    e.add("TaskStateExited", 602, name="Resize")
    e.add("SucceedStateEntered", 603, name="Done").add("SucceedStateExited", 603, name="Done")
    e.add("ExecutionSucceeded", 604, output="{}")
    return e.list


def failed_on_the_image() -> list[dict[str, Any]]:
    cause = json.dumps({"errorType": "NOT_AN_IMAGE", "errorMessage": "The file is text", "stackTrace": ["x.py"]})
    e = Events()
    e.add("ExecutionStarted", 0, input="{}")
    e.add("TaskStateEntered", 1, name="Resize")
    e.add("TaskScheduled", 2).add("TaskFailed", 15, error="NOT_AN_IMAGE", cause=cause)
    e.add("TaskStateExited", 15, name="Resize")
    e.add("TaskStateEntered", 16, name="RecordFailure")
    e.add("TaskScheduled", 17).add("TaskSucceeded", 30, output="{}")
    e.add("TaskStateExited", 30, name="RecordFailure")
    e.add("FailStateEntered", 31, name="ImageFailed")
    e.add("ExecutionFailed", 32, error="NOT_AN_IMAGE", cause=cause)
    return e.list


def api_with(record: dict[str, Any]) -> Api:
    images = FakeImages()
    images.records[IMAGE_ID] = {"imageId": IMAGE_ID, "createdAt": "2026-03-01T11:59:58Z", **record}
    return Api(config.PipelineSettings(), "in", "out", images, NoPresigner())


def processed(status: str, **times: str) -> dict[str, Any]:
    return {"status": status, "executionId": ARN, "startedAt": "2026-03-01T12:00:00Z", **times}


NOW = T0 + timedelta(seconds=5)


def test_a_retried_step_shows_its_attempts_retries_and_public_error_code() -> None:
    api = api_with(processed("PROCESSING"))  # COMPLETE would need rendition URLs; the view is the same
    history = FakeHistory(succeeded_with_a_retry())

    view = image_execution(api, IMAGE_ID, history, owner=config.SHARED_OWNER, now=NOW)

    assert view is not None
    assert "executionId" not in view and "123456789012" not in json.dumps(view)  # no ARN, no account id
    assert (view["status"], view["durationMs"]) == ("SUCCEEDED", 604)
    assert view["startedAt"] == "2026-03-01T12:00:00.250Z"
    assert view["stoppedAt"] == "2026-03-01T12:00:00.854Z"
    resize = view["steps"][1]
    assert resize == {
        "name": "Resize",
        "type": "Task",
        "status": "SUCCEEDED",
        "enteredAt": "2026-03-01T12:00:00.252Z",
        "durationMs": 600,
        "attempts": 2,
        "retries": 1,
        "errors": ["INTERNAL_ERROR"],  # TransientError is ours; the bucket in its cause stays private
    }
    assert [(s["name"], s["type"], s["status"]) for s in view["steps"]] == [
        ("ParseEvent", "Pass", "SUCCEEDED"),
        ("Resize", "Task", "SUCCEEDED"),
        ("Done", "Succeed", "SUCCEEDED"),
    ]
    assert view["steps"][0]["attempts"] == 0 and view["steps"][0]["retries"] == 0
    assert "imgpipe-out" not in json.dumps(view)


def test_a_failed_image_shows_the_failing_step_and_the_public_error() -> None:
    api = api_with(processed("FAILED", failedAt="2026-03-01T12:00:01Z", error={"code": "NOT_AN_IMAGE"}))

    view = image_execution(api, IMAGE_ID, FakeHistory(failed_on_the_image()), owner=config.SHARED_OWNER, now=NOW)

    assert view is not None
    assert view["status"] == "FAILED"
    assert view["error"] == {"code": "NOT_AN_IMAGE", "message": PUBLIC_ERRORS["NOT_AN_IMAGE"]}
    steps = {s["name"]: s for s in view["steps"]}
    assert steps["Resize"]["status"] == "FAILED" and steps["Resize"]["errors"] == ["NOT_AN_IMAGE"]
    assert steps["Resize"]["retries"] == 0
    assert steps["RecordFailure"]["status"] == "SUCCEEDED"
    assert steps["ImageFailed"]["status"] == "FAILED" and "durationMs" not in steps["ImageFailed"]
    assert "stackTrace" not in json.dumps(view) and "The file is text" not in json.dumps(view)


def test_the_history_is_read_for_the_records_execution_and_times() -> None:
    api = api_with(processed("FAILED", failedAt="2026-03-01T12:00:01Z", error={"code": "NOT_AN_IMAGE"}))
    history = FakeHistory(failed_on_the_image())

    image_execution(api, IMAGE_ID, history, owner=config.SHARED_OWNER, now=NOW)

    assert history.asked == [(ARN, datetime(2026, 3, 1, 12, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC))]


def test_an_execution_whose_end_is_not_logged_yet_reads_running() -> None:
    """On AWS the log group receives events a few seconds late."""
    api = api_with(processed("PROCESSING"))
    logged_so_far = succeeded_with_a_retry()[:5]

    view = image_execution(api, IMAGE_ID, FakeHistory(logged_so_far), owner=config.SHARED_OWNER, now=NOW)

    assert view is not None
    assert view["status"] == "RUNNING" and "stoppedAt" not in view and "durationMs" not in view
    assert view["steps"][-1]["name"] == "Resize" and view["steps"][-1]["status"] == "RUNNING"
    assert "durationMs" not in view["steps"][-1]


def test_nothing_logged_yet_is_a_running_execution_without_steps() -> None:
    view = image_execution(api_with(processed("PROCESSING")), IMAGE_ID, FakeHistory([]), owner="shared", now=NOW)
    assert view is not None and view["status"] == "RUNNING" and view["steps"] == []


def test_an_image_not_processed_yet_has_no_execution() -> None:
    api = api_with({"status": "AWAITING_UPLOAD"})
    with pytest.raises(NoExecution, match="AWAITING_UPLOAD"):
        image_execution(api, IMAGE_ID, FakeHistory([]), owner=config.SHARED_OWNER, now=NOW)


@pytest.mark.parametrize(("image_id", "owner"), [("d" * 32, "shared"), (IMAGE_ID, "someone-else"), ("../x", "shared")])
def test_an_image_the_caller_cannot_see_has_no_execution_either(image_id: str, owner: str) -> None:
    history = FakeHistory(succeeded_with_a_retry())
    assert image_execution(api_with(processed("PROCESSING")), image_id, history, owner=owner, now=NOW) is None
    assert history.asked == []  # nothing read for it
