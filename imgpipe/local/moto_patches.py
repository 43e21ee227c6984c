"""moto, tuned for a long-lived local stack: work it repeats per request is done once.

moto is built for tests that start it, make a few calls and throw it away; the local stack keeps it
for hours and sends it ~30 requests per image.  Three of its costs were measured to be repeated per
request or per execution for the same answer (docs/decisions.md, "moto, tuned for a long-lived
stack"):

* the state machine's definition is re-parsed with its ANTLR grammar at every StartExecution (25 ms
  of pure Python per image, before the first state runs);
* every JSONPath in the definition is re-compiled with a PLY parser at every evaluation (~1 ms each,
  ~28 per image);
* every request scans moto's package directory to route itself (~40 directory scans per image).

Each patch keeps moto's semantics: an execution still gets a program of its own (a deep copy of the
one parsed, 1.5 ms), a compiled JSONPath is immutable, and the module list only changes when moto is
reinstalled.  A patch whose target moved in a new moto is skipped: slower, not wrong.

One patch changes semantics, towards AWS's: when a Lambda function fails without an ``errorType``
in its payload, Step Functions names the error ``Lambda.Unknown`` and explains it in the cause
(docs/decisions.md, "Local Lambda failures are named as Lambda names them"); moto names it
``Exception``.  A Retry on ``Lambda.Unknown`` then matches locally as it does on AWS.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("imgpipe.local")
_MARK = "_imgpipe_tuned"


def _install(owner: Any, name: str, make: Callable[[Any], Any]) -> bool:
    current = getattr(owner, name, None)
    if current is None:
        log.debug("moto's %s.%s moved; left as it is", getattr(owner, "__name__", owner), name)
        return False
    if not getattr(current, _MARK, False):
        replacement = make(current)
        setattr(replacement, _MARK, True)
        setattr(owner, name, replacement)
    return True


def _parse_once(_: Any) -> Callable[[Any], Any]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    @functools.lru_cache(maxsize=16)
    def parsed(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[0]

    def entrypoint(worker: Any) -> Any:
        return copy.deepcopy(parsed(worker._evaluation_details.state_machine_details.definition))

    return entrypoint


def _memoised(function: Callable[..., Any]) -> Callable[..., Any]:
    return functools.lru_cache(maxsize=1024)(function)


def _listed_once(function: Callable[[], Any]) -> Callable[[], Any]:
    return functools.cache(lambda: tuple(function()))


LAMBDA_UNKNOWN = "Lambda.Unknown"
LAMBDA_UNKNOWN_CAUSE = (
    "The cause could not be determined because Lambda did not return an error type. Returned payload: "
)


def _untyped_is_lambda_unknown(from_error: Callable[..., Any]) -> Callable[..., Any]:
    """The Lambda service integration's ``_from_error``, naming a failure without ``errorType`` as AWS does."""
    import json

    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils import (
        LambdaFunctionErrorException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def typed(payload: str) -> bool:
        try:
            parsed = json.loads(payload)
        except ValueError:
            return False
        return isinstance(parsed, dict) and bool(parsed.get("errorType"))

    def named_as_aws(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, LambdaFunctionErrorException) or typed(ex.payload):
            return from_error(self, env=env, ex=ex)
        details = TaskFailedEventDetails(
            error=LAMBDA_UNKNOWN,
            cause=LAMBDA_UNKNOWN_CAUSE + ex.payload,
            resource=self._get_sfn_resource(),
            resourceType=self._get_sfn_resource_type(),
        )
        event_details: Any = EventDetails  # moto's TypedDict declares every member required
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(LAMBDA_UNKNOWN),
            event_type=HistoryEventType.TaskFailed,
            event_details=event_details(taskFailedEventDetails=details),
        )

    return named_as_aws


def tune_moto() -> dict[str, bool]:
    """Install the three caches and the Lambda.Unknown naming (idempotent); which ones took."""
    from moto import backends
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_lambda
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    lambda_task = state_task_service_lambda.StateTaskServiceLambda
    return {
        "lambda_unknown": _install(lambda_task, "_from_error", _untyped_is_lambda_unknown),
        "definitions": _install(ExecutionWorker, "_get_evaluation_entrypoint", _parse_once),
        "jsonpaths": all([_install(json_path, "parse", _memoised), _install(result_path, "parse", _memoised)]),
        "modules": _install(backends, "list_of_moto_modules", _listed_once),
    }
