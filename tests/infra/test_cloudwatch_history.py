"""imgpipe.cloudwatch_history against Express-format log events stored in moto's CloudWatch Logs."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from imgpipe import cloudwatch_history as history
from imgpipe import topology
from imgpipe.adapters import CloudWatchHistory, execution_history

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "ImgpipeTest"
LOG_GROUP = f"/aws/vendedlogs/states/{STACK}-pipeline"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:WorkflowStateMachine-abc"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/WorkflowStateMachineRole-abc"
# An hour ago, in ms: CloudWatch Logs (and moto) refuse events older than 14 days.
T0 = (int(time.time()) - 3600) * 1000

OUTPUT = topology.STATE_MACHINE_LOG_GROUP_OUTPUT
IMAGE_A = "a" * 32
IMAGE_B = "b" * 32


def execution_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:express:WorkflowStateMachine-abc:{name}:{name}-run"


def s3_event(image_id: str) -> str:
    return json.dumps(
        {
            "version": "0",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "detail": {
                "bucket": {"name": "imgpipe-input"},
                "object": {"key": f"uploads/{image_id}/cat.jpg", "size": 1234, "etag": "e1", "sequencer": "01"},
            },
        }
    )


def record(arn: str, event_id: int, type_: str, details: dict[str, Any], at: int) -> dict[str, Any]:
    """One log record exactly as Step Functions writes it for an Express execution (level ALL,
    execution data included): ids, timestamps and redrive count are strings."""
    return {
        "id": str(event_id),
        "type": type_,
        "details": details,
        "previous_event_id": str(event_id - 1),
        "event_timestamp": str(at),
        "execution_arn": arn,
        "redrive_count": "0",
    }


def successful_execution(arn: str, image_id: str, start: int) -> list[dict[str, Any]]:
    data = {"truncated": False}
    resize_in = json.dumps({"FunctionName": "Imgpipe-resize", "Payload": {"imageId": image_id}})
    return [
        record(arn, 1, "ExecutionStarted", {"input": s3_event(image_id), "inputDetails": data, "roleArn": ROLE}, start),
        record(
            arn,
            2,
            "PassStateEntered",
            {"name": "ParseEvent", "input": s3_event(image_id), "inputDetails": data},
            start + 1,
        ),
        record(
            arn,
            3,
            "PassStateExited",
            {"name": "ParseEvent", "output": json.dumps({"imageId": image_id}), "outputDetails": data},
            start + 2,
        ),
        record(
            arn,
            4,
            "TaskStateEntered",
            {"name": "Resize", "input": json.dumps({"imageId": image_id}), "inputDetails": data},
            start + 3,
        ),
        record(
            arn,
            5,
            "TaskScheduled",
            {
                "resourceType": "lambda",
                "resource": "invoke",
                "region": REGION,
                "parameters": resize_in,
                "timeoutInSeconds": "60",
            },
            start + 4,
        ),
        record(arn, 6, "TaskStarted", {"resourceType": "lambda", "resource": "invoke"}, start + 5),
        record(
            arn,
            7,
            "TaskSucceeded",
            {"resourceType": "lambda", "resource": "invoke", "output": "{}", "outputDetails": data},
            start + 900,
        ),
        record(arn, 8, "TaskStateExited", {"name": "Resize", "output": "{}", "outputDetails": data}, start + 901),
        record(arn, 9, "SucceedStateEntered", {"name": "Done", "input": "{}", "inputDetails": data}, start + 902),
        record(arn, 10, "SucceedStateExited", {"name": "Done", "output": "{}", "outputDetails": data}, start + 903),
        record(arn, 11, "ExecutionSucceeded", {"output": "{}", "outputDetails": data}, start + 904),
    ]


def failed_execution(arn: str, image_id: str, start: int) -> list[dict[str, Any]]:
    data = {"truncated": False}
    return [
        record(arn, 1, "ExecutionStarted", {"input": s3_event(image_id), "inputDetails": data, "roleArn": ROLE}, start),
        record(arn, 2, "TaskStateEntered", {"name": "Resize", "input": "{}", "inputDetails": data}, start + 1),
        record(
            arn,
            3,
            "TaskFailed",
            {"resourceType": "lambda", "resource": "invoke", "error": "CORRUPT_IMAGE", "cause": "truncated JPEG"},
            start + 2,
        ),
        record(arn, 4, "FailStateEntered", {"name": "ImageFailed", "input": "{}", "inputDetails": data}, start + 3),
        record(arn, 5, "ExecutionFailed", {"error": "CORRUPT_IMAGE", "cause": "truncated JPEG"}, start + 4),
    ]


ARN_A1, ARN_A2, ARN_B = execution_arn("a1"), execution_arn("a2"), execution_arn("b1")
RECORDS = {
    ARN_A1: failed_execution(ARN_A1, IMAGE_A, T0),
    ARN_B: successful_execution(ARN_B, IMAGE_B, T0 + 5_000),
    ARN_A2: successful_execution(ARN_A2, IMAGE_A, T0 + 60_000),  # the re-upload of image A
}


@pytest.fixture
def aws(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        cfn = session.client("cloudformation")
        cfn.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(
                {
                    "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": LOG_GROUP}}},
                    "Outputs": {topology.STATE_MACHINE_LOG_GROUP_OUTPUT: {"Value": {"Ref": "Logs"}}},
                }
            ),
        )
        logs = session.client("logs")
        # Step Functions spreads an execution's records over log streams; write them that way,
        # with a redelivered duplicate and a line that is not a history record.
        messages = [(r, json.dumps(r)) for records in RECORDS.values() for r in records]
        messages.append((RECORDS[ARN_B][4], json.dumps(RECORDS[ARN_B][4])))
        rng = random.Random(7)
        streams: dict[str, list[dict[str, Any]]] = {"states/a": [], "states/b": []}
        for rec, message in messages:
            streams[rng.choice(sorted(streams))].append({"timestamp": int(rec["event_timestamp"]), "message": message})
        streams["states/a"].append({"timestamp": T0, "message": "not a history record"})
        for stream, events in streams.items():
            logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            logs.put_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream, logEvents=sorted(events, key=lambda e: e["timestamp"])
            )
        yield session


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# ---- conversion -----------------------------------------------------------------------------------
def test_records_convert_to_get_execution_history_events() -> None:
    events = history.executions_from_logs(json.dumps(r) for r in RECORDS[ARN_A1])[ARN_A1]
    data = {"truncated": False}
    assert events == [
        {
            "timestamp": ts(T0),
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {"input": s3_event(IMAGE_A), "inputDetails": data, "roleArn": ROLE},
        },
        {
            "timestamp": ts(T0 + 1),
            "type": "TaskStateEntered",
            "id": 2,
            "previousEventId": 1,
            "stateEnteredEventDetails": {"name": "Resize", "input": "{}", "inputDetails": data},
        },
        {
            "timestamp": ts(T0 + 2),
            "type": "TaskFailed",
            "id": 3,
            "previousEventId": 2,
            "taskFailedEventDetails": {
                "resourceType": "lambda",
                "resource": "invoke",
                "error": "CORRUPT_IMAGE",
                "cause": "truncated JPEG",
            },
        },
        {
            "timestamp": ts(T0 + 3),
            "type": "FailStateEntered",
            "id": 4,
            "previousEventId": 3,
            "stateEnteredEventDetails": {"name": "ImageFailed", "input": "{}", "inputDetails": data},
        },
        {
            "timestamp": ts(T0 + 4),
            "type": "ExecutionFailed",
            "id": 5,
            "previousEventId": 4,
            "executionFailedEventDetails": {"error": "CORRUPT_IMAGE", "cause": "truncated JPEG"},
        },
    ]


def test_converted_events_validate_against_the_botocore_history_event_shape() -> None:
    shape = botocore.session.get_session().get_service_model("stepfunctions").shape_for("HistoryEvent")
    events = [e for r in RECORDS.values() for e in history.executions_from_logs(r).popitem()[1]]
    for event in events:
        report = ParamValidator().validate(event, shape)
        assert not report.has_errors(), report.generate_report()


def test_numbers_are_coerced_and_unknown_detail_members_dropped_as_botocore_would() -> None:
    details = {"resource": "invoke", "resourceType": "lambda", "region": REGION,
               "parameters": "{}", "timeoutInSeconds": "60", "surprise": 1}  # fmt: skip
    rec = record(ARN_B, 5, "TaskScheduled", details, T0)
    (event,) = history.executions_from_logs([rec])[ARN_B]
    assert event["taskScheduledEventDetails"] == {
        "resource": "invoke", "resourceType": "lambda", "region": REGION, "parameters": "{}", "timeoutInSeconds": 60,
    }  # fmt: skip
    # Some records carry booleans as strings ("truncated": "false"); the API has real booleans.
    rec = record(
        ARN_B, 2, "TaskStateEntered", {"name": "Resize", "input": "{}", "inputDetails": {"truncated": "false"}}, T0
    )
    (event,) = history.executions_from_logs([rec])[ARN_B]
    assert event["stateEnteredEventDetails"]["inputDetails"] == {"truncated": False}


@pytest.mark.parametrize(
    ("event_type", "key"),
    [
        ("ExecutionStarted", "executionStartedEventDetails"),
        ("TaskStateEntered", "stateEnteredEventDetails"),
        ("ChoiceStateExited", "stateExitedEventDetails"),
        ("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails"),
        ("MapIterationFailed", "mapIterationFailedEventDetails"),
        ("TaskTimedOut", "taskTimedOutEventDetails"),
        ("EvaluationFailed", "evaluationFailedEventDetails"),
        ("MapStateSucceeded", None),
        ("TaskStateAborted", None),
    ],
)
def test_details_key_is_the_api_member_for_the_event_type(event_type: str, key: str | None) -> None:
    assert history.details_key(event_type) == key


def test_every_api_event_type_maps_to_an_existing_member_or_none() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")
    members = model.shape_for("HistoryEvent").members
    for event_type in model.shape_for("HistoryEventType").enum:
        key = history.details_key(event_type)
        assert key is None or key in members, event_type


def test_grouping_orders_by_id_drops_duplicates_and_ignores_other_lines() -> None:
    shuffled = [json.dumps(r) for r in RECORDS[ARN_B]] + [json.dumps(RECORDS[ARN_B][3]), "START RequestId: x", "{}"]
    random.Random(3).shuffle(shuffled)
    ((arn, events),) = history.executions_from_logs({"message": m} for m in shuffled).items()
    assert arn == ARN_B
    assert [e["id"] for e in events] == list(range(1, len(RECORDS[ARN_B]) + 1))


# ---- reading moto's CloudWatch Logs --------------------------------------------------------------
def test_find_log_group_reads_the_stack_output(aws: Any) -> None:
    assert history.find_log_group(STACK, aws.client("cloudformation"), OUTPUT) == LOG_GROUP


def test_find_log_group_explains_a_missing_stack(aws: Any) -> None:
    with pytest.raises(history.HistoryError, match="NoSuchStack"):
        history.find_log_group("NoSuchStack", aws.client("cloudformation"), OUTPUT)


def test_fetch_history_without_image_id_returns_every_execution(aws: Any) -> None:
    executions = history.fetch_history(aws.client("logs"), LOG_GROUP)
    assert set(executions) == {ARN_A1, ARN_A2, ARN_B}
    for arn, events in executions.items():
        assert events == history.executions_from_logs(RECORDS[arn])[arn]


def test_fetch_history_for_an_image_returns_only_its_executions_using_filter_patterns(aws: Any) -> None:
    logs = aws.client("logs")
    patterns: list[str] = []
    logs.meta.events.register(
        "provide-client-params.logs.FilterLogEvents", lambda params, **_: patterns.append(params.get("filterPattern"))
    )
    executions = history.fetch_history(logs, LOG_GROUP, IMAGE_A)
    assert set(executions) == {ARN_A1, ARN_A2}
    assert executions[ARN_A2] == history.executions_from_logs(RECORDS[ARN_A2])[ARN_A2]
    # Never a full scan: first the image id, then each execution by its ARN.
    assert patterns[0] == f'"{IMAGE_A}"'
    assert sorted(patterns[1:]) == sorted([f'"{ARN_A1}"', f'"{ARN_A2}"'])


def test_fetch_history_rejects_an_id_that_would_break_the_filter_pattern(aws: Any) -> None:
    with pytest.raises(ValueError, match="invalid image id"):
        history.fetch_history(aws.client("logs"), LOG_GROUP, 'x" OR "')


def test_fetch_execution_reads_one_execution_by_its_arn_within_the_window(aws: Any) -> None:
    logs = aws.client("logs")
    calls: list[dict[str, Any]] = []
    logs.meta.events.register("provide-client-params.logs.FilterLogEvents", lambda params, **_: calls.append(params))
    start, end = T0 + 59_000, T0 + 61_000

    events = history.fetch_execution(logs, LOG_GROUP, ARN_A2, start_time=start, end_time=end)

    assert events == history.executions_from_logs(RECORDS[ARN_A2])[ARN_A2]
    assert [(c["filterPattern"], c["startTime"], c["endTime"]) for c in calls] == [(f'"{ARN_A2}"', start, end)]


def test_fetch_execution_is_empty_when_nothing_is_logged_in_the_window(aws: Any) -> None:
    assert history.fetch_execution(aws.client("logs"), LOG_GROUP, ARN_A2, start_time=T0, end_time=T0 + 30_000) == []


def test_the_api_reads_an_execution_from_the_log_group_around_its_record_times(aws: Any) -> None:
    """What the API function does for GET /images/{imageId}/execution on AWS: the record's startedAt
    (to the second, written after the execution started) and its end bracket the search."""
    reader = execution_history(LOG_GROUP)
    assert isinstance(reader, CloudWatchHistory)
    started = ts(T0 + 60_000).replace(microsecond=0) + timedelta(seconds=1)  # later than ExecutionStarted

    assert reader.events(ARN_A2, started, started) == history.executions_from_logs(RECORDS[ARN_A2])[ARN_A2]
    assert reader.events(ARN_A2, started, None) == history.executions_from_logs(RECORDS[ARN_A2])[ARN_A2]
    assert reader.events(ARN_A2, ts(T0 + 3_600_000), None) == []  # outside the window: not scanned


def test_load_returns_the_executions_of_an_image_oldest_first(aws: Any) -> None:
    loaded = history.load(STACK, IMAGE_A, session=aws, output_key=OUTPUT)
    assert [arn for arn, _ in loaded] == [ARN_A1, ARN_A2]
    assert loaded[0][1][-1]["type"] == "ExecutionFailed"
    assert loaded[1][1][-1]["type"] == "ExecutionSucceeded"
    assert history.execution_input(loaded[1][1]) == s3_event(IMAGE_A)


def test_load_without_image_id_returns_all_executions_oldest_first(aws: Any) -> None:
    assert [arn for arn, _ in history.load(STACK, session=aws, output_key=OUTPUT)] == [ARN_A1, ARN_B, ARN_A2]
