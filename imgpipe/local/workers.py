"""Lambda sandboxes, locally: long-lived worker processes that run one invocation at a time.

Pillow and botocore hold the GIL for much of their work, so handlers on threads of one process do
not scale with cores; separate processes do, as Lambda runs concurrent invocations in separate
sandboxes.  A worker is a plain ``python -m imgpipe.local.workers`` child speaking JSON lines on
a private pipe (a Lambda payload is JSON anyway): no multiprocessing start-method pitfalls, and a
worker that times out or dies is killed and replaced, which threads cannot offer.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
import warnings
from typing import IO, Any

from imgpipe.local.lambdas import InvokeResult, LocalLambdaContext, call_handler, timed_out
from imgpipe.local.provision import ROOT
from imgpipe.topology import STEPS, Step

WARM_UP_TIMEOUT_S = 60


class Worker:
    def __init__(self, environment: dict[str, str]):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imgpipe.local.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **environment},
            cwd=ROOT,
            # Ctrl-C is for the parent, which stops the workers itself (and a worker exits on
            # EOF if the parent dies).
            start_new_session=True,
        )
        # Import every handler now, like provisioned concurrency, so the first image does not
        # wait for a cold start; the reply is read before the first real one.
        self._warming = self._send({"warm": True})

    def _send(self, request: dict[str, Any]) -> bool:
        assert self.process.stdin
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            return True
        except BrokenPipeError:
            return False

    def _receive(self, timeout_s: float) -> dict[str, Any] | None:
        assert self.process.stdout
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else b""
        return json.loads(line) if line else None

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """The worker's reply, or None if it did not answer in time or died."""
        if self._warming:
            self._warming = False
            if self._receive(WARM_UP_TIMEOUT_S) is None:
                return None
        return self._receive(timeout_s) if self._send(request) else None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class WorkerPool:
    def __init__(self, count: int, environment: dict[str, str]):
        self._environment = environment
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        for _ in range(count):
            self._add()

    def _add(self) -> None:
        worker = Worker(self._environment)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def invoke(self, step: Step, name: str, arn: str, event: Any) -> InvokeResult:
        worker = self._idle.get()
        request = {"step": step.name, "name": name, "arn": arn, "event": event}
        reply = worker.call(request, step.timeout_s)
        if reply is not None:
            self._idle.put(worker)
            return InvokeResult(reply["payload"], reply["error_type"])
        # Timed out or died: the sandbox is gone, as on Lambda; a fresh one takes its place.
        died = worker.process.poll() is not None
        worker.kill()
        with self._lock:
            self._all.remove(worker)
        self._add()
        if died:
            return InvokeResult(
                {
                    "errorMessage": f"worker exited with code {worker.process.returncode}",
                    "errorType": "Runtime.ExitError",
                },
                "Unhandled",
            )
        return timed_out(step.timeout_s, "")

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            if worker.process.stdin:
                worker.process.stdin.close()  # the worker's loop ends on EOF
        for worker in workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    import importlib

    steps = {step.name: step for step in STEPS}
    handlers: dict[str, Any] = {}
    for line in requests:
        request = json.loads(line)
        if request.get("warm"):
            for step in STEPS:
                handlers[step.name] = importlib.import_module(step.local_module).handler
            replies.write(b'{"warm": true}\n')
            replies.flush()
            continue
        step = steps[request["step"]]
        if step.name not in handlers:  # imported on first use: this worker's cold start
            handlers[step.name] = importlib.import_module(step.local_module).handler
        context = LocalLambdaContext(request["name"], step.memory_mb, step.timeout_s, request["arn"])
        result = call_handler(handlers[step.name], request["event"], context)
        replies.write(
            json.dumps({"payload": result.payload, "error_type": result.error_type}, default=str).encode() + b"\n"
        )
        replies.flush()


def main() -> None:
    # The protocol gets a private copy of stdout; the handlers' own output (Powertools' JSON logs)
    # goes to stderr, where the parent's terminal shows it.
    # Metrics are off locally (POWERTOOLS_METRICS_DISABLED): Powertools then neither prints nor
    # clears them and warns about the empty set it is left with after its own 100-value cut.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.path.insert(0, str(ROOT))
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
