"""A function that crashes, runs out of memory or times out fails locally with the error name Lambda
gives it, so the state machine's Retry matches it as it does on AWS; a dead worker never gets work;
the API has sandboxes of its own.  Faults run inside the function's worker processes
(tests/local/faults.py), so what kills a sandbox kills a worker, not the test."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from imgpipe.client import Client
from imgpipe.history import local_history
from imgpipe.local.invocation import InvokeResult
from imgpipe.local.moto_patches import LAMBDA_UNKNOWN_CAUSE

from . import faults
from .conftest import poll

REQUEST_ID = r"[0-9a-f-]{36}"


def finished_history(stack, image_id: str):
    sfn = stack.client("stepfunctions")

    def finished():
        summaries = local_history(sfn, stack.names.state_machine_arn, image_id)
        return summaries if summaries and all(s.status != "RUNNING" for s in summaries) else None

    (summary,) = poll(finished, deadline_s=90)
    return summary


def state(summary, name: str):
    return next(s for s in summary.states if s.name == name)


def lambda_payload(cause: str) -> dict:
    return json.loads(cause)


def test_a_crashed_function_is_runtime_exit_error_and_is_retried(stack, client: Client, photo: bytes):
    with stack.lambdas.fault("resize", "tests.local.faults:crash_once"):
        image_id = client.upload("crash.jpg", photo, "image/jpeg")
        assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    resize = state(finished_history(stack, image_id), "Resize")
    ((error, cause),) = resize.failures
    assert error == "Runtime.ExitError"
    payload = lambda_payload(cause)
    assert payload["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(
        rf"RequestId: {REQUEST_ID} Error: Runtime exited with error: exit status 3", payload["errorMessage"]
    )
    assert resize.attempts == 2


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="memory sizes are enforced from /proc (Linux)")
def test_a_function_over_its_memory_size_is_runtime_out_of_memory_and_is_retried(stack, client, photo):
    with stack.lambdas.fault("metadata", "tests.local.faults:exhaust_memory_once"):
        image_id = client.upload("memory.jpg", photo, "image/jpeg")
        assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    metadata = state(finished_history(stack, image_id), "Metadata")
    ((error, cause),) = metadata.failures
    assert error == "Runtime.OutOfMemory"
    assert re.fullmatch(
        rf"RequestId: {REQUEST_ID} Error: Runtime exited with error: signal: killed",
        lambda_payload(cause)["errorMessage"],
    )
    assert metadata.attempts == 2


def test_a_function_past_its_timeout_is_sandbox_timedout_and_is_retried(stack, client, photo):
    with stack.lambdas.fault("metadata", "tests.local.faults:stall_once", timeout_s=1):
        image_id = client.upload("stall.jpg", photo, "image/jpeg")
        assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    metadata = state(finished_history(stack, image_id), "Metadata")
    ((error, cause),) = metadata.failures
    assert error == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"RequestId: {REQUEST_ID} Error: Task timed out after 1.00 seconds", lambda_payload(cause)["errorMessage"]
    )
    assert metadata.attempts == 2


def test_a_failure_without_an_error_type_is_lambda_unknown_as_step_functions_names_it(stack, client, photo):
    # Lambda's runtimes once reported a timeout with no errorType; Step Functions calls that Lambda.Unknown.
    legacy = {"errorMessage": "2022-01-13T00:58:08.879Z 28931c40 Task timed out after 60.06 seconds"}
    answered = []

    def untyped_once(real, event, context):
        answered.append(event["imageId"])
        return InvokeResult(legacy, "Unhandled") if len(answered) == 1 else real(event, context)

    with stack.lambdas.override("watermark", untyped_once):
        image_id = client.upload("unknown.jpg", photo, "image/jpeg")
        assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    watermark = state(finished_history(stack, image_id), "Watermark")
    assert watermark.failures == [("Lambda.Unknown", LAMBDA_UNKNOWN_CAUSE + json.dumps(legacy, separators=(",", ":")))]


def test_a_worker_killed_while_idle_is_replaced_before_it_gets_work(stack, client, photo):
    pool = stack.lambdas.pool("resize")
    idle = pool.workers
    for worker in idle:
        os.kill(worker.process.pid, signal.SIGKILL)
    poll(lambda: len(pool.workers) == len(idle) and not set(pool.workers) & set(idle))

    image_id = client.upload("after-kill.jpg", photo, "image/jpeg")
    assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"
    resize = state(finished_history(stack, image_id), "Resize")
    assert (resize.attempts, resize.failures) == (1, [])


def test_the_api_has_its_own_workers_and_answers_while_every_pipeline_worker_is_busy(stack, client, photo):
    resize = stack.lambdas.pool("resize")
    api = stack.lambdas.pool("api")
    assert api.workers and not {w.process.pid for w in api.workers} & {w.process.pid for w in resize.workers}

    with stack.lambdas.fault("resize", "tests.local.faults:hold_until_released"):
        held = [client.upload(f"held-{n}.jpg", photo, "image/jpeg") for n in range(len(resize.workers))]
        poll(lambda: all((faults.MARKERS / f"held-{image_id}").exists() for image_id in held))
        # Every resize worker is busy; an API call does not wait for one (60 s if it did).
        answered = Client(stack.api_url, timeout=20).request_upload("meanwhile.jpg", "image/jpeg", 100)
        assert answered["imageId"]
        assert all(client.image(image_id)["status"] == "PROCESSING" for image_id in held)
        for image_id in held:
            (faults.MARKERS / f"release-{image_id}").touch()
        for image_id in held:
            assert client.wait(image_id, deadline_s=90)["status"] == "COMPLETE"


def test_faults_need_worker_processes():
    from imgpipe.local.pipeline import LocalPipeline

    in_process = LocalPipeline(workers=0)
    with (
        pytest.raises(RuntimeError, match="worker processes"),
        in_process.lambdas.fault("resize", "tests.local.faults:crash_once"),
    ):
        pass
