"""Lambda sandboxes, locally: long-lived worker processes that run one invocation at a time.

Pillow and botocore hold the GIL for much of their work, so handlers on threads of one process do
not scale with cores; separate processes do, as Lambda runs concurrent invocations in separate
sandboxes.  A worker is a plain ``python -m imgpipe.local.workers CODE_ROOT STEP`` child speaking
JSON lines on a private pipe (a Lambda payload is JSON anyway): no multiprocessing start-method
pitfalls, and a worker that times out or dies is killed and replaced, which threads cannot offer.

Each function has a pool of its own, as each Lambda function has its own sandboxes and
concurrency.  The pool holds a worker to what Lambda holds a sandbox to: the function's timeout
(``Sandbox.Timedout``) and its memory size (``Runtime.OutOfMemory``: a worker whose resident memory
passes the function's ``memory_mb`` is killed, as Lambda's cgroup kills the sandbox); a worker that
exits or is killed mid-invocation is ``Runtime.ExitError``.  A worker that dies while idle is
replaced at once and never given work (docs/decisions.md, "Local Lambda failures are named as
Lambda names them").

A pool may also scale out as Lambda does: when the invocations waiting outnumber the workers
starting, one more is started (up to ``max_count``) and a waiting invocation takes whichever worker
is free first; a worker beyond the warm count is reclaimed after ``IDLE_RECLAIM_S`` without work.
The API's pool does, so a burst of calls is not queued behind its warm workers (docs/decisions.md,
"The local API scales out like a Lambda function").
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
import warnings
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from imgpipe.local.invocation import (
    Handler,
    InvokeResult,
    LocalLambdaContext,
    call_handler,
    import_failed,
    runtime_exited,
    timed_out,
)
from imgpipe.topology import STEPS, Step

if TYPE_CHECKING:
    from imgpipe.adapters.aws import AwsService

WARM_UP_TIMEOUT_S = 60
STOP_GRACE_S = 5  # how long stopping the stack lets busy workers finish before killing them
API_WORKERS = 4  # the API function's sandboxes kept warm ...
API_MAX_WORKERS = 8  # ... and how far it scales out under a burst (docs/performance.md, "Load and faults")
FAILED_STARTS = 3  # workers in a row failing their warm-up: the function cannot start; invocations fail
IDLE_RECLAIM_S = 60  # a worker beyond the pool's warm count is stopped after this long without work
MEMORY_CHECK_INTERVAL_S = 0.05  # how often a busy worker's resident memory is compared with its function's size
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes(pid: int) -> int | None:
    """A process's resident set size from /proc (Linux); None where there is none (no memory limit then)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


class Worker:
    def __init__(self, code_root: Path, environment: dict[str, str], step: Step):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imgpipe.local.workers", str(code_root), step.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **environment},
            cwd=code_root,
            # Ctrl-C is for the parent, which stops the workers itself (and a worker exits on
            # EOF if the parent dies).
            start_new_session=True,
        )
        self._warm = False

    @property
    def alive(self) -> bool:
        # returncode, not poll(): the pool's watcher thread is blocked in wait() and sets it on exit.
        return self.process.returncode is None

    def ready(self) -> bool:
        """Wait for the worker's warm-up (it imports its handler first, like provisioned concurrency,
        so the first image does not wait for a cold start); False if it died instead."""
        if not self._warm:
            reply, _ = self._receive(WARM_UP_TIMEOUT_S, memory_limit=None)
            self._warm = reply is not None
        return self._warm

    def send(self, request: dict[str, Any]) -> bool:
        """False if the worker is gone: a dead process's pipe refuses the write (EPIPE), so a request
        is never handed to a worker that cannot run it."""
        assert self.process.stdin
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):  # dead, or its pipe already closed
            return False

    def _receive(self, timeout_s: float, memory_limit: int | None) -> tuple[dict[str, Any] | None, str]:
        """The worker's next reply and "reply"; or None and why there is none: "timeout", "exited"
        (it died), "memory" (killed for passing ``memory_limit`` bytes of resident memory)."""
        assert self.process.stdout
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.process.stdout], [], [], min(remaining, MEMORY_CHECK_INTERVAL_S))
            if ready:
                line = self.process.stdout.readline()
                if not line:  # end of file: the process is gone
                    self.process.wait()
                    return None, "exited"
                reply: dict[str, Any] = json.loads(line)
                return reply, "reply"
            if memory_limit is not None and (resident_bytes(self.process.pid) or 0) > memory_limit:
                self.kill()
                return None, "memory"
        return None, "timeout"

    def call(self, request: dict[str, Any], step: Step) -> tuple[dict[str, Any] | None, str]:
        return self._receive(step.timeout_s, step.memory_mb << 20) if self.send(request) else (None, "unsent")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """Ask the worker to end: its loop ends on EOF of its requests."""
        if self.process.stdin:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class WorkerPool:
    """One function's sandboxes: ``count`` workers kept warm, up to ``max_count`` under load, each
    running one invocation at a time."""

    def __init__(
        self,
        count: int,
        environment: dict[str, str],
        code_root: Path,
        step: Step,
        max_count: int | None = None,
        idle_reclaim_s: float = IDLE_RECLAIM_S,
    ):
        self.step = step
        self.idle_reclaim_s = idle_reclaim_s
        self.count = count
        self.max_count = max(count, max_count or count)
        self._environment = environment
        self._code_root = code_root
        self._lock = threading.Lock()
        # Told when a worker becomes idle, one leaves the pool, a start fails or the pool closes:
        # every waiting invocation looks again (notify_all), and only invocations wait on it.
        self._changed = threading.Condition(self._lock)
        self._idle: list[Worker] = []  # warm and free; the most recently used last (it is taken first)
        self._idle_since: dict[Worker, float] = {}
        self._all: list[Worker] = []
        self._warming = 0  # started, not yet warm
        self._waiting = 0  # invocations waiting for a worker
        self._failed_starts = 0  # workers in a row that died or hung in their warm-up
        self._closed = False
        self._closing = threading.Event()
        with self._lock:
            for _ in range(count):
                self._spawn()
        if self.max_count > count:
            threading.Thread(target=self._reclaim_idle, name=f"{step.name}-reclaim", daemon=True).start()

    @property
    def workers(self) -> list[Worker]:
        with self._lock:
            return list(self._all)

    def _spawn(self) -> None:  # with self._lock held
        worker = Worker(self._code_root, self._environment, self.step)
        self._all.append(worker)
        self._warming += 1
        threading.Thread(target=self._keep, args=(worker,), name=f"{self.step.name}-worker", daemon=True).start()

    def _keep(self, worker: Worker) -> None:
        """Offer ``worker`` once it is warm (an invocation never waits for a cold start that another
        worker could spare it); retire it when it exits."""
        warm = worker.ready()
        with self._changed:
            self._warming -= 1
            self._failed_starts = 0 if warm else self._failed_starts + 1
        if warm:
            self._offer(worker)
        else:
            worker.kill()  # dead or hung before it could take work
        worker.process.wait()
        self._retire(worker)  # died while idle: replaced now, so no invocation is ever sent to it

    def _offer(self, worker: Worker) -> None:
        with self._changed:
            if worker in self._all:
                self._idle.append(worker)
                self._idle_since[worker] = time.monotonic()
                self._changed.notify_all()

    def _take(self) -> Worker | None:
        """An idle worker; if there is none, one more is started when the invocations waiting
        outnumber the workers warming (up to ``max_count``), and the first worker free, old or new,
        is taken.  None if the pool closed, or its workers keep failing to start (each invocation
        then tries one start of its own and gets its answer when that fails, never waits forever)."""
        with self._changed:
            self._waiting += 1
            tried = False
            try:
                while not self._idle:
                    if self._closed:
                        return None
                    failing = self._failed_starts >= FAILED_STARTS
                    if self._waiting > self._warming and len(self._all) < self.max_count and not (failing and tried):
                        self._spawn()
                        tried = True
                    elif failing and not self._all:  # nothing running, warming or idle: nothing will come
                        return None
                    self._changed.wait()
                worker = self._idle.pop()
                self._idle_since.pop(worker, None)
                return worker
            finally:
                self._waiting -= 1

    def _retire(self, worker: Worker) -> None:
        """Take ``worker`` out of the pool and start its replacement (once, whoever notices first),
        unless its function cannot start: then each invocation tries one start of its own."""
        with self._changed:
            if self._closed or worker not in self._all:
                return
            self._all.remove(worker)
            if worker in self._idle:
                self._idle.remove(worker)
                self._idle_since.pop(worker, None)
            if len(self._all) < self.count and self._failed_starts < FAILED_STARTS:
                self._spawn()
            self._changed.notify_all()  # a waiting invocation may start one now, or give up

    def _reclaim_idle(self) -> None:
        """Stop the workers beyond the warm count that had no work for ``idle_reclaim_s``: the
        longest idle first, as Lambda reclaims the sandboxes a function no longer needs."""
        while not self._closing.wait(self.idle_reclaim_s / 4):
            with self._lock:
                now = time.monotonic()
                spare = len(self._all) - self.count
                stale = [w for w in self._idle if now - self._idle_since[w] >= self.idle_reclaim_s][: max(spare, 0)]
                for worker in stale:
                    self._idle.remove(worker)
                    self._idle_since.pop(worker)
                    self._all.remove(worker)  # so its exit is not taken for a death to replace
            for worker in stale:
                worker.stop()

    def invoke(
        self, name: str, arn: str, event: Any, *, fault: str | None = None, timeout_s: int | None = None
    ) -> InvokeResult:
        step = self.step if timeout_s is None else replace(self.step, timeout_s=timeout_s)
        request_id = str(uuid.uuid4())
        request = {"name": name, "arn": arn, "request_id": request_id, "event": event}
        request |= {"fault": fault, "timeout_s": step.timeout_s} if fault else {}
        # A worker found dead before it took the request never ran it: the next one gets it.  Bounded,
        # so a function whose workers cannot start at all still gets an answer.
        for _ in range(self.max_count + 2):
            worker = self._take()
            if worker is None:
                break
            if not worker.alive:
                self._retire(worker)
                continue
            reply, outcome = worker.call(request, step)
            if outcome == "unsent":  # died before it was given the request: the next worker runs it
                self._retire(worker)
                continue
            if reply is not None:
                self._offer(worker)
                return InvokeResult(reply["payload"], reply["error_type"])
            # Timed out, died or starved mid-invocation: the sandbox is gone, as on Lambda.
            worker.kill()
            self._retire(worker)
            if outcome == "timeout":
                return timed_out(step.timeout_s, request_id)
            return runtime_exited(worker.process.returncode or 0, request_id, out_of_memory=outcome == "memory")
        return runtime_exited(0, request_id)

    def close(self, deadline: float | None = None) -> None:
        """Ask every worker to end (EOF on its requests) and kill what is still running at ``deadline``
        (time.monotonic(); default 5 s from now): one grace period for the pool, not one per worker,
        so stopping a busy stack takes seconds however many workers are mid-invocation."""
        deadline = time.monotonic() + STOP_GRACE_S if deadline is None else deadline
        self._closing.set()
        with self._changed:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
            self._changed.notify_all()
        for worker in workers:
            worker.stop()
        for worker in workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()


# ---- the worker process ---------------------------------------------------------------------------
def _resolve(target: str) -> Any:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)


# The services nearly every invocation calls (the image steps, `upload-url`, the status); S3's model
# and endpoint rules are most of the cost (~210 of ~250 ms).  The rest load on first use.
WARM_SERVICES: tuple[AwsService, ...] = ("s3", "dynamodb")


def load_service_models() -> None:
    """Read the AWS service models most invocations need into botocore's cache, as part of the
    warm-up: a worker's first invocation would otherwise spend ~250 ms (seconds on a busy machine)
    parsing them while its caller waits.  The adapters still build their own clients, on first use."""
    import boto3

    for service in WARM_SERVICES:
        boto3.client(service, region_name="us-east-1", aws_access_key_id="warm-up", aws_secret_access_key="warm-up")


def serve(requests: IO[bytes], replies: IO[bytes], code_root: Path, step: Step) -> None:
    """Answer invocations of ``step``'s function, one JSON line each, after a ``{"warm": true}`` line."""
    from imgpipe.local.invocation import import_handler

    handler: Handler | None = None
    failure: BaseException | None = None
    try:
        handler = import_handler(code_root, step)
    except Exception as exc:  # answered per invocation, as Lambda's Runtime.ImportModuleError
        failure = exc
    with contextlib.suppress(Exception):  # only a head start: the adapters load what they need anyway
        load_service_models()
    replies.write(b'{"warm": true}\n')
    replies.flush()
    for line in requests:
        request = json.loads(line)
        timeout_s = request.get("timeout_s", step.timeout_s)
        context = LocalLambdaContext(
            request["name"], step.memory_mb, timeout_s, request["arn"], aws_request_id=request["request_id"]
        )
        if handler is None:
            result = import_failed(step, failure or ImportError(step.local_module), context.aws_request_id)
        elif request.get("fault"):
            result = call_handler(functools.partial(_resolve(request["fault"]), handler), request["event"], context)
        else:
            result = call_handler(handler, request["event"], context)
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
    code_root, step_name = Path(sys.argv[1]), sys.argv[2]
    serve(sys.stdin.buffer, replies, code_root, next(step for step in STEPS if step.name == step_name))
    # The pool closed our requests: a sandbox is discarded, not finalised.  Skipping the
    # interpreter's teardown (~0.2 s of CPU with boto3 and Pillow loaded) lets a stack stop sooner.
    replies.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
