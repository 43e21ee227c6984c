"""The Lambda service, locally: the Invoke API in front of moto, running the real handlers in-process.

moto's ASL interpreter invokes Task functions through ``lambda.invoke`` on the emulator's endpoint;
this WSGI middleware answers those calls (and any from the AWS CLI) for our functions with the
handler code, and passes every other request on to moto.  Errors are reported exactly as the
Lambda service does: HTTP 200, ``X-Amz-Function-Error: Unhandled`` and an ``errorType`` payload
(the exception's class name, or Lambda's own ``Sandbox.Timedout``, ``Runtime.ExitError``,
``Runtime.OutOfMemory``), so the state machine's Retry/Catch see the error names they would on AWS
(docs/decisions.md, "Local Lambda failures are named as Lambda names them").
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from imgpipe.local.invocation import (
    Handler,
    InvokeResult,
    LocalLambdaContext,
    WorkerFault,
    call_handler,
    import_handler,
    timed_out,
)
from imgpipe.topology import API, Step

if TYPE_CHECKING:
    from imgpipe.local.workers import WorkerPool


_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


def function_name_from(path_name: str) -> str:
    """Accept a name, a full ARN or a partial ARN, with or without a qualifier, as Lambda does."""
    name = unquote(path_name)
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6]
    if ":function:" in name:
        return name.split(":function:")[1].split(":")[0]
    return name.split(":")[0]


@dataclass
class LocalFunction:
    step: Step
    name: str
    arn: str
    handler: Handler | None = None  # imported on first invoke, like a cold start

    def resolve(self, code_root: Path | None) -> Handler:
        if self.handler is None:
            if code_root is None:
                raise RuntimeError(f"no handler for {self.name}: give LambdaService a code_root or the handler")
            self.handler = import_handler(code_root, self.step)
        return self.handler


class LambdaService:
    """Our functions by name, each with sandboxes of its own (worker processes, or threads of this
    process with ``workers=0``), and seams for tests to inject faults (``override``, ``fault``)."""

    def __init__(self, functions: list[LocalFunction], code_root: Path | None = None):
        self.functions = {f.name: f for f in functions}
        self.code_root = code_root
        self._overrides: dict[str, Handler] = {}
        self._faults: dict[str, WorkerFault] = {}
        self._lock = threading.Lock()
        self._pools: dict[str, WorkerPool] = {}

    def by_step(self, step_name: str) -> LocalFunction:
        return next(f for f in self.functions.values() if f.step.name == step_name)

    @contextmanager
    def override(self, step_name: str, replacement: Callable[[Handler, dict[str, Any], Any], Any]) -> Iterator[None]:
        """Run ``replacement(real_handler, event, context)`` in this process instead of the handler
        while active.  A replacement that returns an ``InvokeResult`` answers the Invoke call with it
        as it is (a raw Lambda response, e.g. an error payload without ``errorType``)."""
        function = self.by_step(step_name)
        real = function.resolve(self.code_root)
        with self._lock:
            self._overrides[function.name] = lambda event, context: replacement(real, event, context)
        try:
            yield
        finally:
            with self._lock:
                self._overrides.pop(function.name, None)

    @contextmanager
    def fault(self, step_name: str, target: str, *, timeout_s: int | None = None) -> Iterator[None]:
        """Run ``target`` ("module:function", importable from the code root) inside the function's
        worker processes instead of its handler, as ``function(real_handler, event, context)``: a
        fault that kills, starves or stalls its sandbox does so to a worker, as on Lambda, not to
        this process.  ``timeout_s`` stands in for the function's timeout meanwhile."""
        function = self.by_step(step_name)
        if function.name not in self._pools:
            raise RuntimeError("faults run in worker processes: start the stack with workers")
        with self._lock:
            self._faults[function.name] = WorkerFault(target, timeout_s)
        try:
            yield
        finally:
            with self._lock:
                self._faults.pop(function.name, None)

    def start_workers(self, count: int, environment: dict[str, str], api_count: int | None = None) -> None:
        """Give every function ``count`` worker processes of its own (imgpipe.local.workers), the API
        ``api_count`` kept warm and more under a burst: as Lambda gives each function its own
        sandboxes and concurrency, pipeline load never queues an API call.  Overridden functions
        still run in this process, where the override lives."""
        from imgpipe.local.workers import API_MAX_WORKERS, API_WORKERS, WorkerPool

        if self.code_root is None:
            raise RuntimeError("worker processes import the handlers from a code_root; none was given")
        for function in self.functions.values():
            if function.step.name == API.name:  # scales out under a burst, as the API function does
                pool = WorkerPool(api_count or API_WORKERS, environment, self.code_root, function.step, API_MAX_WORKERS)
            else:
                pool = WorkerPool(count, environment, self.code_root, function.step)
            self._pools[function.name] = pool

    def stop_workers(self) -> None:
        from imgpipe.local.workers import STOP_GRACE_S

        pools, self._pools = self._pools, {}
        deadline = time.monotonic() + STOP_GRACE_S  # one grace period for every function's workers
        for pool in pools.values():
            pool.close(deadline)

    def pool(self, step_name: str) -> WorkerPool | None:
        return self._pools.get(self.by_step(step_name).name)

    def invoke(self, name: str, event: Any) -> InvokeResult:
        function = self.functions[name]
        with self._lock:
            override = self._overrides.get(name)
            fault = self._faults.get(name)
        pool = self._pools.get(name)
        if override is None and pool is not None:
            if fault is None:
                return pool.invoke(function.name, function.arn, event)
            return pool.invoke(function.name, function.arn, event, fault=fault.target, timeout_s=fault.timeout_s)
        timeout = function.step.timeout_s
        handler = override or function.resolve(self.code_root)
        context = LocalLambdaContext(function.name, function.step.memory_mb, timeout, function.arn)
        outcome: dict[str, InvokeResult] = {}

        def run() -> None:
            outcome["result"] = call_handler(handler, event, context)

        # The function's timeout is enforced as on Lambda; a timed-out thread cannot be killed,
        # but its result is discarded and the caller sees Sandbox.Timedout.
        worker = threading.Thread(target=run, name=f"lambda-{name}", daemon=True)
        worker.start()
        worker.join(timeout)
        return timed_out(timeout, context.aws_request_id) if worker.is_alive() else outcome["result"]

    def wsgi(self, downstream: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap moto's WSGI app: our functions' Invoke calls are answered here."""

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            match = _INVOKE_PATH.match(environ.get("PATH_INFO", ""))
            name = function_name_from(match["name"]) if match else None
            if environ.get("REQUEST_METHOD") != "POST" or name not in self.functions:
                return downstream(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                event = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                body = json.dumps({"Type": "User", "message": "Could not parse request body into json"}).encode()
                start_response(
                    "400 Bad Request",
                    [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidRequestContentException")],
                )
                return [body]
            invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
            if invocation_type == "Event":
                threading.Thread(target=self.invoke, args=(name, event), daemon=True).start()
                start_response("202 Accepted", [("Content-Type", "application/json")])
                return [b""]
            result = self.invoke(name, event)
            headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
            if result.error_type:
                headers.append(("X-Amz-Function-Error", result.error_type))
            start_response("200 OK", headers)
            return [result.body()]

        return app
