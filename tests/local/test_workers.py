"""Handlers run in worker processes (one sandbox per concurrent invocation), as on Lambda."""

from __future__ import annotations

import io
import json
import os

import psutil

from imgpipe.local.workers import WorkerPool, serve
from imgpipe.topology import METADATA, STEPS


def test_the_stack_runs_handlers_outside_the_test_process(stack, client, photo):
    workers = [psutil.Process(w.process.pid) for w in stack.lambdas._pool._all]
    assert workers and all(w.pid != os.getpid() for w in workers)
    before = sum(w.cpu_times().user for w in workers)
    image_id = client.upload("pooled.jpg", photo, "image/jpeg")
    assert client.wait(image_id)["status"] == "COMPLETE"
    assert sum(w.cpu_times().user for w in workers) > before  # the resizing happened over there


def test_a_worker_that_dies_is_reported_as_runtime_exit_error_and_replaced(stack):
    pool = WorkerPool(1, {})
    try:
        (worker,) = pool._all
        worker.kill()
        result = pool.invoke(
            METADATA, "imgpipe-metadata", "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-metadata", {}
        )
        assert result.error_type == "Unhandled"
        assert result.payload["errorType"] == "Runtime.ExitError"
        (replacement,) = pool._all
        assert replacement is not worker and replacement.process.poll() is None
    finally:
        pool.close()


def test_worker_protocol_reports_handler_errors_as_lambda_does(stack):
    requests = io.BytesIO(
        json.dumps({"step": "metadata", "name": "imgpipe-metadata", "arn": "arn", "event": {}}).encode() + b"\n"
    )
    replies = io.BytesIO()
    serve(requests, replies)
    reply = json.loads(replies.getvalue())
    assert reply["error_type"] == "Unhandled"
    assert reply["payload"]["errorType"] == "KeyError"  # the metadata step got no imageId


def test_workers_zero_runs_every_handler_in_process(photo):
    from imgpipe.client import Client
    from imgpipe.local.pipeline import LocalPipeline

    children_before = {p.pid for p in psutil.Process().children(recursive=True)}
    with LocalPipeline(api_port=0, aws_port=0, workers=0) as in_process:
        assert all(in_process.lambdas.pool(step.name) is None for step in STEPS)
        client = Client(in_process.api_url)
        image_id = client.upload("in-process.jpg", photo, "image/jpeg")
        assert client.wait(image_id)["status"] == "COMPLETE"
        started = {p.pid for p in psutil.Process().children(recursive=True)} - children_before
    assert not started  # the whole pipeline ran without a worker process
