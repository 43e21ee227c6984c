"""What the local stack reports while it runs: one line per API request and one per finished
execution, at INFO on the ``imgpipe.local.activity`` logger.

``imgpipe serve`` shows them (``--log-level``); tests, benchmarks and ``imgpipe process`` leave the
logger unconfigured, and then nothing here does any work (no timing, no lookups).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from imgpipe.history import image_id_of
from imgpipe.local import moto_patches

log = logging.getLogger("imgpipe.local.activity")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def log_requests(app: WsgiApp) -> WsgiApp:
    """WSGI middleware: ``GET /upload-url 200 14 ms`` per request (the path without its query)."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not log.isEnabledFor(logging.INFO):
            return app(environ, start_response)
        started = time.perf_counter()
        status = ["500"]  # what the server answers if the app raises before starting a response

        def recording(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            return app(environ, recording)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info(
                "%s %s %s %.0f ms", environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), status[0], elapsed_ms
            )

    return logged


def describe_finished(execution: dict[str, Any]) -> str:
    """One line for a finished execution (``DescribeExecution``'s answer)."""
    name = execution["executionArn"].rsplit(":", 1)[-1]
    image = image_id_of(execution.get("input")) or "?"
    error = f" {execution['error']}" if execution.get("error") else ""
    started, stopped = execution.get("startDate"), execution.get("stopDate")
    duration = f" {(stopped - started).total_seconds() * 1000:.0f} ms" if started and stopped else ""
    return f"execution {name} image {image} {execution['status']}{error}{duration}"


class ExecutionLog:
    """Logs each execution once it has finished: moto tells it (imgpipe.local.moto_patches), and the
    line is written from ``DescribeExecution``, so the duration is the execution's own."""

    def __init__(self, sfn: Any):
        self._sfn = sfn
        self._finished: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="execution-log", daemon=True)
        self._stop_telling: Callable[[], None] | None = None

    def start(self) -> None:
        self._stop_telling = moto_patches.tell_when_finished(self._on_finished)
        self._thread.start()

    def _on_finished(self, execution_arn: str) -> None:
        if log.isEnabledFor(logging.INFO):
            self._finished.put(execution_arn)

    def stop(self) -> None:
        if self._stop_telling is not None:
            self._stop_telling()
            self._stop_telling = None
        self._finished.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while (arn := self._finished.get()) is not None:
            try:
                execution = self._sfn.describe_execution(executionArn=arn)
            except Exception:  # the emulator is stopping (a reset forgets executions): nothing to tell
                continue
            log.info("%s", describe_finished(execution))
