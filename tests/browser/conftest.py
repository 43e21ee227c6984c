"""Headless Chromium (Debian's, driven by Playwright) against ``imgpipe serve`` run as README says.

Playwright cannot download its own browsers here, so it launches the system's ``chromium``; without
it every test of this directory is skipped with one line saying how to get it.  Each stack is a real
``imgpipe serve`` subprocess on free ports, started once for the whole directory.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    OTHER_ORIGIN_DIR,
    ROOT,
    START_DEADLINE_S,
    Served,
    jpeg_bytes,
    require_chromium,
)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test: its own localStorage, cache and cookies."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()


# ---- imgpipe serve, as README says ------------------------------------------------------------------
API_KEY = "browser-test-key"


class ServeProcess:
    """``imgpipe serve`` on free ports, its output collected as it comes."""

    def __init__(self, api_key: str | None) -> None:
        command = [str(Path(sys.executable).parent / "imgpipe"), "serve", "--port", "0", "--aws-port", "0"]
        command += ["--workers", "1", "--log-level", "WARNING"]
        if api_key:
            command += ["--api-key", api_key]
        self.api_key = api_key
        self.output: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self._lines.put(line)

    def when_up(self, deadline: float) -> Served:
        """The running stack, once its banner names the API's URL."""
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                printed = "".join(self.output)
                raise AssertionError(f"imgpipe serve did not start within {START_DEADLINE_S} s:\n{printed}") from None
            if match := re.match(r"\s+API\s+(http://\S+)", line):
                return Served(self.process, match.group(1), self.api_key, self.output)

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)  # what Ctrl-C does

    def wait(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="package")
def stacks() -> Iterator[dict[str, Served]]:
    """Two stacks, one without and one with ``--api-key``, started and stopped side by side."""
    processes = {"open": ServeProcess(None), "keyed": ServeProcess(API_KEY)}
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        yield {name: process.when_up(deadline) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.interrupt()
        for process in processes.values():
            process.wait()


@pytest.fixture(scope="package")
def served(stacks: dict[str, Served]) -> Served:
    return stacks["open"]


@pytest.fixture(scope="package")
def served_with_key(stacks: dict[str, Served]) -> Served:
    return stacks["keyed"]


# ---- a page on another origin ------------------------------------------------------------------------
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="package")
def other_origin() -> Iterator[str]:
    """A plain static server on its own port: a different origin from the API and from S3."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(OTHER_ORIGIN_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


# ---- files to upload -----------------------------------------------------------------------------------
@pytest.fixture
def jpeg_file(tmp_path: Path) -> Path:
    path = tmp_path / "gradient.jpg"
    path.write_bytes(jpeg_bytes())
    return path


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
