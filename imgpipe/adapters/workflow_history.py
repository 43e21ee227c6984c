"""Execution history readers (the API's GET /images/{imageId}/execution): Step Functions' own history
locally, the Express workflow's log group on AWS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from imgpipe.adapters.aws import aws_client, classify


class ExecutionHistory(Protocol):
    """One execution's events, shaped like Step Functions' GetExecutionHistory, wherever they are kept."""

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]: ...


@dataclass
class StepFunctionsHistory:
    """Step Functions keeps the history itself: the local emulator (and any Standard workflow)."""

    @cached_property
    def client(self) -> Any:
        return aws_client("stepfunctions")

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]:
        try:
            pages = self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            return [event for page in pages for event in page["events"]]
        except Exception as exc:
            raise classify(exc) from exc


# Log records carry their event's time.  The record's startedAt is written by the execution's second
# state, to the second, so the searched window starts a little before it and ends a little after.
HISTORY_WINDOW_MARGIN_MS = 60_000


@dataclass
class CloudWatchHistory:
    """An Express workflow's history exists only in its log group (logging level ALL, with execution
    data: stacks/workflow.py); delivery there is best effort and takes a few seconds."""

    log_group: str

    @cached_property
    def client(self) -> Any:
        return aws_client("logs")

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]:
        from imgpipe.cloudwatch_history import fetch_execution

        start = int(started.timestamp() * 1000) - HISTORY_WINDOW_MARGIN_MS
        end = None if stopped is None else int(stopped.timestamp() * 1000) + HISTORY_WINDOW_MARGIN_MS
        try:
            return fetch_execution(self.client, self.log_group, execution_arn, start_time=start, end_time=end)
        except Exception as exc:
            raise classify(exc) from exc


def execution_history(log_group: str | None) -> ExecutionHistory:
    """The workflow's log group when the stack names one (Express on AWS), else Step Functions (locally)."""
    return CloudWatchHistory(log_group) if log_group else StepFunctionsHistory()
