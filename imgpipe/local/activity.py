"""What the local stack reports while it runs: one line per API request and one per finished
execution, at INFO on the ``imgpipe.local.activity`` logger.

``imgpipe serve`` shows them (``--log-level``); tests, benchmarks and ``imgpipe process`` leave the
logger unconfigured, and then nothing here does any work (no timing, no polling).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from imgpipe.history import image_id_of

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
    """Logs each execution it is given once it has finished (the local EventBridge target hands it
    every execution it starts).  The duration comes from the execution's own start and stop dates,
    so the polling interval does not blur it."""

    def __init__(self, sfn: Any, interval_s: float = 0.2):
        self._sfn = sfn
        self._interval_s = interval_s
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, execution_arn: str) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        with self._lock:
            self._pending.add(execution_arn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="execution-log", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            with self._lock:
                pending = list(self._pending)
            for arn in pending:
                try:
                    execution = self._sfn.describe_execution(executionArn=arn)
                except Exception:  # the emulator is stopping, or a transient fault: ask again next round
                    continue
                if execution["status"] == "RUNNING":
                    continue
                with self._lock:
                    self._pending.discard(arn)
                log.info("%s", describe_finished(execution))
