"""The Lambda service, locally: the Invoke API in front of moto, running the real handlers in-process.

moto's ASL interpreter invokes Task functions through ``lambda.invoke`` on the emulator's endpoint;
this WSGI middleware answers those calls (and any from the AWS CLI) for our functions with the
handler code, and passes every other request on to moto.  Errors are reported exactly as the
Lambda service does (``X-Amz-Function-Error: Unhandled`` and an ``errorType`` payload), so the
state machine's Retry/Catch see what they would on AWS.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from imgpipe.local.provision import ROOT
from imgpipe.topology import Step

Handler = Callable[[dict[str, Any], Any], Any]

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
class LocalLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    invoked_function_arn: str
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


@dataclass
class LocalFunction:
    step: Step
    name: str
    arn: str
    handler: Handler | None = None  # imported on first invoke, like a cold start

    def resolve(self) -> Handler:
        if self.handler is None:
            # The handlers are loaded from the checkout's functions/ folder, exactly the code the
            # Lambda asset is built from; it is not part of the installed imgpipe package.
            if str(ROOT) not in sys.path:
                sys.path.append(str(ROOT))
            self.handler = importlib.import_module(self.step.local_module).handler
        return self.handler


@dataclass
class InvokeResult:
    payload: Any
    error_type: str | None = None

    def body(self) -> bytes:
        return json.dumps(self.payload, default=str).encode()


def call_handler(handler: Handler, event: Any, context: LocalLambdaContext) -> InvokeResult:
    try:
        return InvokeResult(handler(event, context))
    except Exception as exc:  # reported to the caller as the Lambda service would
        return InvokeResult(
            {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_exception(exc)[-5:],
            },
            error_type="Unhandled",
        )


def timed_out(timeout_s: float, request_id: str) -> InvokeResult:
    return InvokeResult(
        {
            "errorMessage": f"Task timed out after {timeout_s:.2f} seconds",
            "errorType": "Sandbox.Timedout",
            "requestId": request_id,
        },
        error_type="Unhandled",
    )


class LambdaService:
    """Our functions by name, with a seam for tests to inject faults (``override``)."""

    def __init__(self, functions: list[LocalFunction]):
        self.functions = {f.name: f for f in functions}
        self._overrides: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._pool: Any = None

    def by_step(self, step_name: str) -> LocalFunction:
        return next(f for f in self.functions.values() if f.step.name == step_name)

    @contextmanager
    def override(self, step_name: str, replacement: Callable[[Handler, dict[str, Any], Any], Any]) -> Iterator[None]:
        """Run ``replacement(real_handler, event, context)`` instead of the handler while active."""
        function = self.by_step(step_name)
        real = function.resolve()
        with self._lock:
            self._overrides[function.name] = lambda event, context: replacement(real, event, context)
        try:
            yield
        finally:
            with self._lock:
                self._overrides.pop(function.name, None)

    def start_workers(self, count: int, environment: dict[str, str]) -> None:
        """Run handlers in ``count`` worker processes (imgpipe.local.workers); overridden
        (fault-injected) functions still run in this process, where the override lives."""
        from imgpipe.local.workers import WorkerPool

        self._pool = WorkerPool(count, environment)

    def stop_workers(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def invoke(self, name: str, event: Any) -> InvokeResult:
        function = self.functions[name]
        with self._lock:
            override = self._overrides.get(name)
        timeout = function.step.timeout_s
        if override is None and self._pool is not None:
            return self._pool.invoke(function.step, function.name, function.arn, event)
        handler = override or function.resolve()
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
