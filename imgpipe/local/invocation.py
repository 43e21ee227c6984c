"""One invocation of a local function, as the Lambda runtime reports it: the context object, the
handler import, the result, and Lambda's own error names and payloads for a timeout, a crash, memory
exhaustion and an import failure (docs/decisions.md, "Local Lambda failures are named as Lambda
names them").  Shared by the Invoke API (lambdas.py) and the worker processes (workers.py).
"""

from __future__ import annotations

import importlib
import json
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgpipe.topology import Step

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: float
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


def import_handler(code_root: Path, step: Step) -> Handler:
    """``functions.<step>.handler`` from ``code_root`` (the checkout: exactly the code the Lambda asset
    is built from, which is not part of the installed imgpipe package)."""
    if str(code_root) not in sys.path:
        sys.path.append(str(code_root))
    handler: Handler = importlib.import_module(step.local_module).handler
    return handler


@dataclass
class InvokeResult:
    payload: Any
    error_type: str | None = None

    def body(self) -> bytes:
        return json.dumps(self.payload, default=str).encode()


@dataclass(frozen=True)
class WorkerFault:
    target: str  # "module:function"
    timeout_s: int | None = None


def call_handler(handler: Handler, event: Any, context: LocalLambdaContext) -> InvokeResult:
    try:
        result = handler(event, context)
        return result if isinstance(result, InvokeResult) else InvokeResult(result)
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


# The errors Lambda itself reports when a function does not return: its payloads for a timeout, a
# runtime that exited and one killed for exceeding its memory (docs/decisions.md, "Local Lambda
# failures are named as Lambda names them").
TIMED_OUT = "Sandbox.Timedout"
EXITED = "Runtime.ExitError"
OUT_OF_MEMORY = "Runtime.OutOfMemory"
IMPORT_FAILED = "Runtime.ImportModuleError"


def lambda_error(error_type: str, message: str, request_id: str) -> InvokeResult:
    return InvokeResult(
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}, error_type="Unhandled"
    )


def timed_out(timeout_s: float, request_id: str) -> InvokeResult:
    return lambda_error(TIMED_OUT, f"Task timed out after {timeout_s:.2f} seconds", request_id)


def exit_description(returncode: int) -> str:
    """How Lambda words a runtime's end: Go's ``ProcessState`` text ("exit status 1", "signal: killed")."""
    if returncode < 0:
        try:
            return f"signal: {(signal.strsignal(-returncode) or str(-returncode)).lower()}"
        except ValueError:
            return f"signal: {-returncode}"
    return f"exit status {returncode}"


def runtime_exited(returncode: int, request_id: str, out_of_memory: bool = False) -> InvokeResult:
    if out_of_memory:
        return lambda_error(OUT_OF_MEMORY, f"Runtime exited with error: {exit_description(returncode)}", request_id)
    if returncode == 0:
        return lambda_error(EXITED, "Runtime exited without providing a reason", request_id)
    return lambda_error(EXITED, f"Runtime exited with error: {exit_description(returncode)}", request_id)


def import_failed(step: Step, exc: BaseException, request_id: str) -> InvokeResult:
    """Lambda's Python runtime when the handler module cannot be imported."""
    module = step.lambda_handler.rsplit(".", 1)[0]
    return InvokeResult(
        {
            "errorMessage": f"Unable to import module '{module}': {exc}",
            "errorType": IMPORT_FAILED,
            "requestId": request_id,
            "stackTrace": [],
        },
        error_type="Unhandled",
    )
