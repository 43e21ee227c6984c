from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from imgpipe.history import format_summary, summarise

T0 = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


def events_with_a_retry_then_failure():
    started_input = json.dumps({"detail": {"object": {"key": "uploads/abc123/photo.jpg"}}})
    cause = json.dumps({"errorMessage": "the data is not an image", "errorType": "NOT_AN_IMAGE"})
    rows = [
        ("ExecutionStarted", 0, {"input": started_input}),
        ("TaskStateEntered", 10, {"name": "Resize"}),
        ("TaskScheduled", 11, {}),
        ("TaskFailed", 50, {"error": "TransientError", "cause": "SlowDown"}),
        ("TaskScheduled", 900, {}),
        ("TaskFailed", 950, {"error": "NOT_AN_IMAGE", "cause": cause}),
        ("TaskStateExited", 951, {"name": "Resize"}),
        ("FailStateEntered", 960, {"name": "ImageFailed"}),
        ("ExecutionFailed", 961, {"error": "NOT_AN_IMAGE", "cause": cause}),
    ]
    key = {"ExecutionStarted": "executionStarted", "ExecutionFailed": "executionFailed"}
    return [
        {
            "id": i + 1,
            "type": kind,
            "timestamp": T0 + timedelta(milliseconds=ms),
            f"{key.get(kind, kind[0].lower() + kind[1:])}EventDetails": details,
        }
        for i, (kind, ms, details) in enumerate(rows)
    ]


def test_summary_counts_attempts_failures_and_durations():
    summary = summarise("arn:aws:states:us-east-1:1:execution:sm:run1", events_with_a_retry_then_failure())
    assert summary.status == "FAILED"
    assert summary.image_id == "abc123"
    assert summary.duration_ms == 961
    resize = summary.states[0]
    assert (resize.name, resize.kind, resize.attempts, resize.duration_ms) == ("Resize", "Task", 2, 941)
    assert [e for e, _ in resize.failures] == ["TransientError", "NOT_AN_IMAGE"]
    assert summary.states[1].exited is None


def test_formatted_summary_names_the_retry_and_the_error_message():
    text = format_summary(summarise("arn:aws:states:us-east-1:1:execution:sm:run1", events_with_a_retry_then_failure()))
    assert text.splitlines()[0].startswith("execution run1  FAILED  image abc123")
    assert "retried 1x" in text
    assert "NOT_AN_IMAGE: the data is not an image" in text


def test_events_out_of_order_are_sorted_by_id():
    events = events_with_a_retry_then_failure()
    assert summarise("a:b", list(reversed(events))).states[0].attempts == 2


def test_history_of_an_unknown_stack_explains_instead_of_crashing(aws_credentials, capsys):
    from moto import mock_aws

    from imgpipe.cli import main

    with mock_aws():
        assert main(["history", "--stack", "no-such-stack"]) == 2
    assert "cannot read history of stack no-such-stack" in capsys.readouterr().err
