"""One Logger, Tracer and Metrics for every function (service name from POWERTOOLS_SERVICE_NAME).

Cold start (docs/performance.md): Powertools' ``Tracer()`` imports the X-Ray SDK even when tracing
is off, and outside Lambda the SDK's recorder builds two botocore X-Ray clients for its sampler at
import time (~110 ms, 40 % of a handler's cold start in the local stack and the benchmarks).  So:

* tracing off (outside Lambda, SAM/Chalice local, ``POWERTOOLS_TRACE_DISABLED``; Powertools' own
  rule) — the Tracer gets a do-nothing provider and the SDK is never imported; the decorators work
  unchanged;
* tracing on (in Lambda) — the SDK is used as before, but only botocore is patched (the one library
  the functions make calls with) instead of every library the SDK knows, which spares importing and
  patching sqlite3, http.client and the rest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

TRACED_MODULES = ("botocore",)


class _Unrecorded(BaseSegment):
    """A subsegment nobody records."""

    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None: ...


class NoTracing(BaseProvider):
    """The Tracer's provider while tracing is off: every call is a no-op, no X-Ray SDK import."""

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _Unrecorded()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _Unrecorded()

    def put_annotation(self, key: str, value: Any) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Any) -> None: ...
    def patch_all(self) -> None: ...


def tracing_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' rule: off when told so, outside Lambda, and under SAM/Chalice local."""
    told_off = environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() in ("1", "true", "yes", "on")
    local = environ.get("AWS_SAM_LOCAL") or environ.get("CHALICE_LOCAL")
    return told_off or bool(local) or "AWS_LAMBDA_FUNCTION_NAME" not in environ


def build_tracer() -> Tracer:
    if tracing_disabled():
        # disabled=True as well, so Powertools skips patching; the provider keeps it from importing
        # the X-Ray SDK to find its default recorder.
        return Tracer(disabled=True, provider=NoTracing())
    return Tracer(patch_modules=TRACED_MODULES)


logger = Logger()
tracer = build_tracer()
# The namespace the stack gives each function (one per stack, so two stacks in an account keep their
# metrics apart); "imgpipe" where nothing sets it.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "imgpipe")
