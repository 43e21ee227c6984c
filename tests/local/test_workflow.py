"""The real state machine (statemachine/pipeline.asl.json) in the embedded engine, one test per path:
happy, transient error retried then succeeding, permanent error to the failure branch, retries
exhausted, duplicate delivery.  Faults are injected into the handlers through the local Lambda
service, so Retry and Catch are exercised by the ASL interpreter, not simulated."""

from __future__ import annotations

import json
import threading

from imgpipe import topology
from imgpipe.client import Client
from imgpipe.errors import CORRUPT_IMAGE, PUBLIC_ERRORS, TransientError
from imgpipe.history import local_history
from imgpipe.local.provision import LocalNames, load_definition

from .conftest import poll

# As the stack deploys it: the file's placeholders filled (the local stack's names; only the shape matters here).
DEFINITION = json.loads(load_definition(LocalNames()))


def history_of(stack, image_id: str):
    sfn = stack.client("stepfunctions")

    def finished():
        summaries = local_history(sfn, stack.names.state_machine_arn, image_id)
        return summaries if summaries and all(s.status != "RUNNING" for s in summaries) else None

    return poll(finished)


def state(summary, name: str):
    return next(s for s in summary.states if s.name == name)


def original_tags(stack, image_id: str) -> dict[str, str]:
    s3 = stack.client("s3")
    (original,) = s3.list_objects_v2(Bucket=stack.names.input_bucket, Prefix=f"uploads/{image_id}/")["Contents"]
    tags = s3.get_object_tagging(Bucket=stack.names.input_bucket, Key=original["Key"])["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_happy_path_runs_every_state_once(stack, client: Client, photo: bytes):
    image_id = client.upload("happy.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    (summary,) = history_of(stack, image_id)
    assert summary.status == "SUCCEEDED"
    assert [s.name for s in summary.states] == ["ParseEvent", "ClaimImage", "Resize", "Watermark", "Metadata", "Done"]
    assert all(s.attempts <= 1 and not s.failures for s in summary.states)


def test_transient_error_is_retried_then_succeeds(stack, client: Client, photo: bytes):
    calls = []

    def flaky_once(real, event, context):
        calls.append(event["imageId"])
        if len(calls) == 1:
            raise TransientError("S3 said SlowDown")
        return real(event, context)

    with stack.lambdas.override("resize", flaky_once):
        image_id = client.upload("flaky.jpg", photo, "image/jpeg")
        view = client.wait(image_id)
    assert view["status"] == "COMPLETE"
    (summary,) = history_of(stack, image_id)
    resize = state(summary, "Resize")
    assert resize.attempts == 2
    assert [error for error, _ in resize.failures] == ["TransientError"]


def test_permanent_error_is_not_retried_and_records_failed(stack, client: Client, photo: bytes):
    def corrupt(real, event, context):
        raise CORRUPT_IMAGE("JPEG data cannot be decoded: broken data stream")

    with stack.lambdas.override("watermark", corrupt):
        image_id = client.upload("corrupt.jpg", photo, "image/jpeg")
        view = client.wait(image_id)
    assert view["status"] == "FAILED"
    assert view["error"] == {"code": "CORRUPT_IMAGE", "message": PUBLIC_ERRORS["CORRUPT_IMAGE"]}
    (summary,) = history_of(stack, image_id)
    assert summary.status == "FAILED"
    assert summary.error == "CORRUPT_IMAGE"
    assert "broken data stream" in summary.cause  # the cause is for operators, in the history
    assert state(summary, "Watermark").attempts == 1
    assert [s.name for s in summary.states][-3:] == ["RecordFailure", "TagFailedOriginal", "ImageFailed"]
    # The original is tagged for the input bucket's lifecycle rule: a FAILED image's upload expires.
    assert original_tags(stack, image_id) == {topology.FAILED_ORIGINAL_TAG[0]: topology.FAILED_ORIGINAL_TAG[1]}


def test_transient_errors_that_persist_end_failed_after_the_retries(stack, client: Client, photo: bytes):
    def always_throttled(real, event, context):
        raise TransientError("ProvisionedThroughputExceededException")

    with stack.lambdas.override("metadata", always_throttled):
        image_id = client.upload("throttled.jpg", photo, "image/jpeg")
        view = client.wait(image_id, deadline_s=60)
    assert view["status"] == "FAILED"
    assert view["error"]["code"] == "INTERNAL_ERROR"
    (summary,) = history_of(stack, image_id)
    assert summary.error == "TransientError"
    (retrier,) = [r for r in DEFINITION["States"]["Metadata"]["Retry"] if "TransientError" in r["ErrorEquals"]]
    assert state(summary, "Metadata").attempts == 1 + retrier["MaxAttempts"]


def test_unexpected_exception_in_a_step_is_recorded_not_lost(stack, client: Client, photo: bytes):
    def bug(real, event, context):
        raise KeyError("renditions")

    with stack.lambdas.override("metadata", bug):
        image_id = client.upload("bug.jpg", photo, "image/jpeg")
        view = client.wait(image_id)
    assert view["status"] == "FAILED"
    assert view["error"] == {"code": "INTERNAL_ERROR", "message": PUBLIC_ERRORS["INTERNAL_ERROR"]}
    (summary,) = history_of(stack, image_id)
    assert summary.error == "KeyError"


def test_event_delivered_twice_leaves_one_record_and_the_same_renditions(stack, client: Client, photo: bytes):
    image_id = client.upload("twice.jpg", photo, "image/jpeg")
    first = client.wait(image_id)
    assert first["status"] == "COMPLETE"
    (original,) = history_of(stack, image_id)

    # Redeliver the very event the first execution got, through the rule's queue.
    sfn = stack.client("stepfunctions")
    started = sfn.get_execution_history(executionArn=original.arn, maxResults=1)["events"][0]
    event = started["executionStartedEventDetails"]["input"]
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=stack.names.queue)["QueueUrl"], MessageBody=event)

    summaries = poll(lambda: (s := history_of(stack, image_id)) and len(s) == 2 and s)
    duplicate = next(s for s in summaries if s.arn != original.arn)
    assert duplicate.status == "SUCCEEDED"
    assert [s.name for s in duplicate.states] == ["ParseEvent", "ClaimImage", "DuplicateDelivery"]

    second = client.image(image_id)
    assert second["executionId"] == first["executionId"]
    assert second["completedAt"] == first["completedAt"]
    assert [r["key"] for r in second["renditions"]] == [r["key"] for r in first["renditions"]]
    listed = stack.client("s3").list_objects_v2(Bucket=stack.names.output_bucket, Prefix=f"renditions/{image_id}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(r["key"] for r in first["renditions"])
    items = stack.client("dynamodb").scan(TableName=stack.names.table)["Items"]
    assert sum(1 for item in items if item["imageId"]["S"] == image_id) == 1


def test_concurrent_duplicate_deliveries_process_the_image_once(stack, client: Client, photo: bytes):
    gate = threading.Event()

    def held(real, event, context):
        # Keep the first execution inside Resize until the duplicate has finished.
        if not gate.wait(30):
            raise AssertionError("the duplicate never finished")
        return real(event, context)

    with stack.lambdas.override("resize", held):
        image_id = client.upload("concurrent.jpg", photo, "image/jpeg")
        sfn = stack.client("stepfunctions")
        first = poll(lambda: [s for s in local_history(sfn, stack.names.state_machine_arn, image_id) if s.states])[0]
        started = sfn.get_execution_history(executionArn=first.arn, maxResults=1)["events"][0]
        sqs = stack.client("sqs")
        sqs.send_message(
            QueueUrl=sqs.get_queue_url(QueueName=stack.names.queue)["QueueUrl"],
            MessageBody=started["executionStartedEventDetails"]["input"],
        )
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
        gate.set()
        assert client.wait(image_id)["status"] == "COMPLETE"
    assert [s.name for s in duplicate.states][-1] == "DuplicateDelivery"
    resized = [s for s in history_of(stack, image_id) if any(st.name == "Resize" for st in s.states)]
    assert len(resized) == 1


def test_execution_history_is_served_to_the_aws_api(stack, client: Client, photo: bytes):
    image_id = client.upload("api.jpg", photo, "image/jpeg")
    client.wait(image_id)
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.names.state_machine_arn)["executions"]
    assert executions
    (summary,) = history_of(stack, image_id)
    events = sfn.get_execution_history(executionArn=summary.arn)["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert entered == ["ParseEvent", "ClaimImage", "Resize", "Watermark", "Metadata", "Done"]
    assert json.loads(events[0]["executionStartedEventDetails"]["input"])["detail-type"] == "Object Created"


def test_the_event_exactly_as_aws_sends_it_runs_the_whole_pipeline(stack, client: Client, photo: bytes, event):
    """AWS's S3 event differs from moto's (``etag``, a real sequencer): the definition must read AWS's."""
    aws_event = event("eventbridge_object_created")
    key = aws_event["detail"]["object"]["key"]
    aws_event["detail"]["bucket"]["name"] = stack.names.input_bucket
    stack.client("s3").put_object(Bucket=stack.names.input_bucket, Key=key, Body=photo)
    image_id = key.split("/")[1]
    history_of(stack, image_id)  # the emulator's own event for that PUT, processed first

    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.names.state_machine_arn, input=json.dumps(aws_event))[
        "executionArn"
    ]
    summary = poll(lambda: (s := [x for x in history_of(stack, image_id) if x.arn == arn]) and s[0])
    assert summary.status == "SUCCEEDED", (summary.error, summary.cause)
    assert [s.name for s in summary.states] == ["ParseEvent", "ClaimImage", "Resize", "Watermark", "Metadata", "Done"]
    record = client.image(image_id)
    assert record["status"] == "COMPLETE"
    assert record["executionId"] == arn.split(":")[7]  # the execution's name: no account id in the API


def test_a_complete_images_original_is_kept_untagged(stack, client: Client, photo: bytes):
    image_id = client.upload("kept.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    assert original_tags(stack, image_id) == {}


def test_failing_to_tag_the_original_still_records_failed(stack, client: Client, photo: bytes):
    """Tagging is best effort: the original gone (or S3 refusing) must not keep FAILED unrecorded."""

    def gone(real, event, context):
        source = event["source"]
        stack.client("s3").delete_object(Bucket=source["bucket"], Key=source["key"])
        raise CORRUPT_IMAGE("JPEG data cannot be decoded: broken data stream")

    with stack.lambdas.override("resize", gone):
        image_id = client.upload("vanishing.jpg", photo, "image/jpeg")
        view = client.wait(image_id)
    assert view["status"] == "FAILED"
    assert view["error"]["code"] == "CORRUPT_IMAGE"
    (summary,) = history_of(stack, image_id)
    assert summary.status == "FAILED" and summary.error == "CORRUPT_IMAGE"
    tagging = state(summary, "TagFailedOriginal")
    assert tagging.failures and tagging.attempts == 2  # tried, retried once, then given up
    assert [s.name for s in summary.states][-2:] == ["TagFailedOriginal", "ImageFailed"]
