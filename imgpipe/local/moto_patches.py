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


def tune_moto() -> dict[str, bool]:
    """Install the three caches (idempotent); which ones took."""
    from moto import backends
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    return {
        "definitions": _install(ExecutionWorker, "_get_evaluation_entrypoint", _parse_once),
        "jsonpaths": all([_install(json_path, "parse", _memoised), _install(result_path, "parse", _memoised)]),
        "modules": _install(backends, "list_of_moto_modules", _listed_once),
    }
