"""Headless Chromium (Debian's, driven by Playwright) against ``imgpipe serve`` run as README says.

Playwright cannot download its own browsers here, so it launches the system's ``chromium``; without
it every test of this directory is skipped with one line saying how to get it.  Each stack is a real
``imgpipe serve`` subprocess on free ports, started once for the whole directory.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.serve_support import ServeProcess

from .support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    OTHER_ORIGIN_DIR,
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


def serve(api_key: str | None) -> ServeProcess:
    """``imgpipe serve`` as the installed command (README's way), with ``--api-key`` when given."""
    options = ["--workers", "1", "--log-level", "WARNING", *(["--api-key", api_key] if api_key else [])]
    return ServeProcess(*options, command=[str(Path(sys.executable).parent / "imgpipe")])


@pytest.fixture(scope="package")
def stacks() -> Iterator[dict[str, Served]]:
    """Two stacks, one without and one with ``--api-key``, started and stopped side by side."""
    keys = {"open": None, "keyed": API_KEY}
    processes = {name: serve(key) for name, key in keys.items()}
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        yield {name: Served(process.up(deadline), keys[name]) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.interrupt()  # both at once: they stop side by side
        for process in processes.values():
            process.stop()


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
