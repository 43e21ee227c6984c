"""moto, tuned for a long-lived local stack: work it repeats per request is done once.

moto is built for tests that start it, make a few calls and throw it away; the local stack keeps it
for hours and sends it ~30 requests per image.  Three of its costs were measured to be repeated per
request or per execution for the same answer (docs/decisions.md, "moto, tuned for a long-lived
stack"):

* the state machine's definition is re-parsed with its ANTLR grammar at every StartExecution (25 ms
  of pure Python per image, before the first state runs);
* every JSONPath in the definition is re-compiled with a PLY parser at every evaluation (~1 ms each,
  ~28 per image);
* every request scans moto's package directory to route itself (~40 directory scans per image), and
  lists its handler class's methods with ``inspect.getmembers`` to find the action;
* every Task state builds a new boto3 client (~3 ms of the emulator's one interpreter lock each, ~7
  per image) for the same service, region and settings.

And one of its memory costs grows with every image: a finished execution keeps its whole
interpreter (evaluation details, state data: ~30 kB per execution) and its history as ~45 kB of
dicts, though only the history is read again, and the interpreter lists every thread it ever
started.  A finished execution keeps just its history, compressed (``GetExecutionHistory`` still
answers the same events), finished threads are forgotten, and whoever asked
(``tell_when_finished``: the execution log of ``imgpipe serve``) is told that it ended.

Each patch keeps moto's semantics: an execution still gets a program of its own (a deep copy of the
one parsed, 1.5 ms), a compiled JSONPath is immutable, the module list only changes when moto is
reinstalled, and a finished execution answers every API as before.  A patch whose target moved in a
new moto is skipped: slower, not wrong.

One patch changes semantics, towards AWS's: when a Lambda function fails without an ``errorType``
in its payload, Step Functions names the error ``Lambda.Unknown`` and explains it in the cause
(docs/decisions.md, "Local Lambda failures are named as Lambda names them"); moto names it
``Exception``.  A Retry on ``Lambda.Unknown`` then matches locally as it does on AWS.
"""

from __future__ import annotations

import copy
import functools
import logging
import pickle
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
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


_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def _client_per_service(_: Callable[..., Any]) -> Callable[..., Any]:
    """The interpreter's clients, one per endpoint, region and service (boto3 clients are thread-safe),
    made as moto makes them but with a connection pool as large as the executions that share it."""

    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    def shared(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto passes every Task its execution role's credentials, and its own factory ignores them
        # (every client signs as "ak"/"sk"): one client per service loses nothing.
        endpoint = "" if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
        key = (endpoint, region, service)
        with _clients_lock:
            if key not in _clients:
                config = Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                    max_pool_connections=64,
                )
                make_client: Any = boto3.client  # the service is a run-time string, not one of the stubs' literals
                _clients[key] = make_client(
                    service_name=service, region_name=region, aws_access_key_id="ak", aws_secret_access_key="sk",
                    config=config, **({"endpoint_url": endpoint} if endpoint else {}),
                )  # fmt: skip
            return _clients[key]

    return shared


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


class _CompressedHistory:
    """A finished execution's history events, pickled and compressed (~45 kB of dicts -> ~6 kB);
    each read gets a fresh copy, as moto's ``EventManager.get_event_history`` does."""

    def __init__(self, events: list[dict[str, Any]]):
        self._data = zlib.compress(pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL), 1)

    def get_event_history(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = pickle.loads(zlib.decompress(self._data))  # our own bytes
        return events


@dataclass
class _FinishedEnvironment:
    """What is read from a finished execution's environment: its history (and, for callback and Map
    APIs, its empty pools)."""

    event_manager: Any
    callback_pool_manager: Any
    map_run_record_pool_manager: Any


@dataclass
class _FinishedWorker:
    env: _FinishedEnvironment

    def stop(self, **_: Any) -> None:  # StopExecution on a finished execution: nothing runs
        return None


_finished_listeners: list[Callable[[str], None]] = []


def tell_when_finished(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(execution_arn)`` as each execution ends, in the thread that ran it (keep it
    short); returns the function that stops it."""
    _finished_listeners.append(listener)
    return lambda: _finished_listeners.remove(listener)


def _keep_only_history(terminated: Callable[[Any], None]) -> Callable[[Any], None]:
    from moto.stepfunctions.parser.utils import TMP_THREADS  # every thread the interpreter started, kept

    def terminated_and_slimmed(communication: Any) -> None:
        terminated(communication)  # records status, output, error from the full environment
        execution = communication.execution
        env = execution.exec_worker.env
        history = _CompressedHistory(env.event_manager.get_event_history())
        execution.exec_worker = _FinishedWorker(
            _FinishedEnvironment(history, env.callback_pool_manager, env.map_run_record_pool_manager)
        )
        # moto lists each thread it starts (for its own tests to join) and never forgets one.
        TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
        for listener in list(_finished_listeners):
            listener(execution.exec_arn)

    return terminated_and_slimmed


def tune_moto() -> dict[str, bool]:
    """Install the caches, the history-only finished executions and the Lambda.Unknown naming
    (idempotent); which ones took."""
    from moto import backends
    from moto.core import responses
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
        state_task_service_lambda,
    )
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    lambda_task = state_task_service_lambda.StateTaskServiceLambda
    # The modules that call the services this definition's tasks use (each imported the factory).
    task_clients = (lambda_eval_utils, state_task_service_dynamodb, state_task_service_aws_sdk)
    return {
        "clients": all(_install(module, "boto_client_for", _client_per_service) for module in task_clients),
        "method_names": _install(responses, "method_names_from_class", _memoised),
        "lambda_unknown": _install(lambda_task, "_from_error", _untyped_is_lambda_unknown),
        "definitions": _install(ExecutionWorker, "_get_evaluation_entrypoint", _parse_once),
        "jsonpaths": all([_install(json_path, "parse", _memoised), _install(result_path, "parse", _memoised)]),
        "modules": _install(backends, "list_of_moto_modules", _listed_once),
        "finished_executions": _install(BaseExecutionWorkerCommunication, "terminated", _keep_only_history),
    }
