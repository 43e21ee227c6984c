"""Handlers run in worker processes (one sandbox per concurrent invocation), as on Lambda."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid

import psutil

from imgpipe.local.workers import WorkerPool, serve
from imgpipe.paths import checkout_root
from imgpipe.topology import METADATA, STEPS, Step

ARN = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-metadata"


def test_the_stack_runs_handlers_outside_the_test_process(stack, client, photo):
    workers = [psutil.Process(w.process.pid) for w in stack.lambdas.pool("resize").workers]
    assert workers and all(w.pid != os.getpid() for w in workers)
    before = sum(w.cpu_times().user for w in workers)
    image_id = client.upload("pooled.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    assert sum(w.cpu_times().user for w in workers) > before  # the resizing happened over there


def test_every_function_has_workers_of_its_own(stack):
    pids = {step.name: {w.process.pid for w in stack.lambdas.pool(step.name).workers} for step in STEPS}
    assert all(pids.values())
    assert sum(map(len, pids.values())) == len(set().union(*pids.values()))  # no worker serves two functions


def test_a_worker_killed_while_idle_is_replaced_and_the_invocation_runs(stack):
    pool = WorkerPool(1, {}, checkout_root(), METADATA)
    try:
        assert pool.invoke("imgpipe-metadata", ARN, {}).payload["errorType"] == "KeyError"  # warm, now idle
        (worker,) = pool.workers
        worker.kill()
        result = pool.invoke("imgpipe-metadata", ARN, {})
        assert result.error_type == "Unhandled"
        assert result.payload["errorType"] == "KeyError"  # the handler ran (no imageId), in the replacement
        (replacement,) = pool.workers
        assert replacement is not worker and replacement.alive
    finally:
        pool.close()


def test_a_worker_that_dies_mid_invocation_is_runtime_exit_error_and_replaced(stack):
    pool = WorkerPool(1, {}, checkout_root(), METADATA)
    try:
        (worker,) = pool.workers
        event = {"imageId": uuid.uuid4().hex}  # crash_once crashes once per image
        result = pool.invoke("imgpipe-metadata", ARN, event, fault="tests.local.faults:crash_once")
        assert result.error_type == "Unhandled"
        assert result.payload["errorType"] == "Runtime.ExitError"
        assert result.payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
        (replacement,) = pool.workers
        assert replacement is not worker and replacement.alive
    finally:
        pool.close()


def test_worker_protocol_reports_handler_errors_as_lambda_does(stack):
    request = {"name": "imgpipe-metadata", "arn": "arn", "request_id": "r-1", "event": {}}
    replies = io.BytesIO()
    serve(io.BytesIO(json.dumps(request).encode() + b"\n"), replies, checkout_root(), METADATA)
    warm, reply = map(json.loads, replies.getvalue().splitlines())
    assert warm == {"warm": True}
    assert reply["error_type"] == "Unhandled"
    assert reply["payload"]["errorType"] == "KeyError"  # the metadata step got no imageId
    assert reply["payload"]["requestId"] == "r-1"


def test_a_handler_that_cannot_be_imported_is_runtime_import_module_error(tmp_path):
    step = Step("missing", memory_mb=128, timeout_s=3, description="no such function")
    request = {"name": "imgpipe-missing", "arn": "arn", "request_id": "r-2", "event": {}}
    replies = io.BytesIO()
    serve(io.BytesIO(json.dumps(request).encode() + b"\n"), replies, tmp_path, step)
    reply = json.loads(replies.getvalue().splitlines()[-1])
    assert reply["error_type"] == "Unhandled"
    assert reply["payload"]["errorType"] == "Runtime.ImportModuleError"
    assert reply["payload"]["errorMessage"].startswith("Unable to import module 'missing.handler': ")


def test_workers_zero_runs_every_handler_in_process(photo, tmp_path):
    # A second stack needs a process of its own: moto's backends are process-wide, and this package's
    # stack is running in this one.
    script = """
import sys

import psutil

from imgpipe.client import Client
from imgpipe.local.pipeline import LocalPipeline
from imgpipe.topology import STEPS

photo = open(sys.argv[1], "rb").read()
with LocalPipeline(api_port=0, aws_port=0, workers=0) as in_process:
    assert all(in_process.lambdas.pool(step.name) is None for step in STEPS)
    client = Client(in_process.api_url)
    image_id = client.upload("in-process.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    children = psutil.Process().children(recursive=True)
assert not children, children  # the whole pipeline ran without a worker process
print("in-process ok")
"""
    (tmp_path / "photo.jpg").write_bytes(photo)
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "photo.jpg")],
        capture_output=True, text=True, timeout=120, check=False, cwd=checkout_root(),
    )  # fmt: skip
    assert result.returncode == 0 and "in-process ok" in result.stdout, result.stdout + result.stderr


def test_closing_a_pool_kills_the_workers_still_busy_at_its_deadline(stack):
    """Stopping the stack waits one grace period for the whole pool, then kills: a busy worker
    never holds `imgpipe serve` open (two are held here by a fault that is never released)."""
    import threading
    import time

    from tests.local.conftest import poll
    from tests.local.faults import MARKERS

    pool = WorkerPool(2, {}, checkout_root(), METADATA)
    image_ids = [uuid.uuid4().hex for _ in range(2)]
    calls = [
        threading.Thread(
            target=pool.invoke,
            args=("imgpipe-metadata", ARN, {"imageId": image_id}),
            kwargs={"fault": "tests.local.faults:hold_until_released"},
            daemon=True,
        )
        for image_id in image_ids
    ]
    for call in calls:
        call.start()
    poll(lambda: all((MARKERS / f"held-{image_id}").exists() for image_id in image_ids))
    busy = [worker.process for worker in pool.workers]
    pool.close(deadline=time.monotonic())  # the grace period is over already
    assert [process.poll() for process in busy] == [-9, -9]  # killed, not left running
    for call in calls:
        call.join(timeout=30)
        assert not call.is_alive()


def test_a_busy_pool_scales_out_to_its_maximum_and_reclaims_the_extra_workers_once_idle(stack):
    import threading

    from tests.local.conftest import poll
    from tests.local.faults import MARKERS

    image_ids = [uuid.uuid4().hex for _ in range(4)]
    pool = WorkerPool(1, {}, checkout_root(), METADATA, max_count=3, idle_reclaim_s=1)
    try:
        assert pool.invoke("imgpipe-metadata", ARN, {}).payload["errorType"] == "KeyError"  # one worker, warm
        results = {}

        def invoke(image_id: str) -> None:
            event = {"imageId": image_id}
            hold = "tests.local.faults:hold_until_released"  # held past the function's 10 s timeout
            results[image_id] = pool.invoke("imgpipe-metadata", ARN, event, fault=hold, timeout_s=90)

        calls = [threading.Thread(target=invoke, args=(image_id,), daemon=True) for image_id in image_ids]
        for call in calls:
            call.start()
        held = lambda: [i for i in image_ids if (MARKERS / f"held-{i}").exists()]  # noqa: E731
        poll(lambda: len(held()) == 3)  # the warm worker and two started for the burst run at once
        assert len(pool.workers) == 3  # the fourth call waits for one of them: no more than the maximum
        first = held()[0]
        (MARKERS / f"release-{first}").touch()
        poll(lambda: len(held()) == 4)  # the waiting call took the worker that came free
        assert len(pool.workers) == 3
        for image_id in image_ids:
            (MARKERS / f"release-{image_id}").touch()
        for call in calls:
            call.join(timeout=60)
            assert not call.is_alive()
        # every call reached the handler (which refuses an event without the step's fields); none was
        # answered with a sandbox failure
        assert all(not r.payload["errorType"].startswith(("Runtime.", "Sandbox.")) for r in results.values())
        poll(lambda: len(pool.workers) == 1, deadline_s=30)  # the two extra workers, idle, are reclaimed
        (survivor,) = pool.workers
        assert survivor.alive
        assert pool.invoke("imgpipe-metadata", ARN, {}).payload["errorType"] == "KeyError"  # and it still runs
    finally:
        for image_id in image_ids:
            (MARKERS / f"release-{image_id}").touch()
        pool.close()


def test_a_function_whose_workers_cannot_start_answers_each_invocation_with_an_exit_error(stack):
    import threading

    # Python itself cannot start in these workers; an invocation must get its answer, not wait
    pool = WorkerPool(1, {"PYTHONHOME": "/nonexistent"}, checkout_root(), METADATA, max_count=4)
    try:
        answers = []
        calls = [
            threading.Thread(target=lambda: answers.append(pool.invoke("imgpipe-metadata", ARN, {})), daemon=True)
            for _ in range(3)
        ]
        for call in calls:
            call.start()
        for call in calls:
            call.join(timeout=60)
            assert not call.is_alive()
        assert [a.payload["errorType"] for a in answers] == ["Runtime.ExitError"] * 3
        assert len(pool.workers) <= 1  # no pool of broken workers is kept, and no storm of restarts
    finally:
        pool.close()
