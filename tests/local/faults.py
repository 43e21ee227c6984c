"""Faults that run inside a function's worker process (``LambdaService.fault``), each once per image.

A worker is a separate process, so a fault cannot share memory with the test: what happened to an
image is kept in a marker file named after it.  The first invocation for an image misbehaves, the
next one (the state machine's retry, in a fresh worker) runs the real handler.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

MARKERS = Path(tempfile.gettempdir()) / "imgpipe-faults"


def first_time(event: dict[str, Any], name: str) -> bool:
    MARKERS.mkdir(exist_ok=True)
    try:
        (MARKERS / f"{name}-{event['imageId']}").touch(exist_ok=False)
        return True
    except FileExistsError:
        return False


def crash_once(real: Any, event: dict[str, Any], context: Any) -> Any:
    """The runtime exits mid-invocation (a native crash, a sys.exit in a library)."""
    if first_time(event, "crash"):
        os._exit(3)
    return real(event, context)


def exhaust_memory_once(real: Any, event: dict[str, Any], context: Any) -> Any:
    """Allocates past the function's memory size, touching every page, until the sandbox is killed."""
    if first_time(event, "memory"):
        held = []
        limit = context.memory_limit_in_mb << 20
        while sum(map(len, held)) < 4 * limit:  # bounded, should the limit not be enforced
            held.append(bytearray(16 << 20))  # zero-filled: resident
            time.sleep(0.005)
        raise AssertionError(f"allocated {4 * limit >> 20} MB and was not stopped")
    return real(event, context)


def stall_once(real: Any, event: dict[str, Any], context: Any) -> Any:
    """Runs past the function's timeout."""
    if first_time(event, "stall"):
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 30)
    return real(event, context)


def hold_until_released(real: Any, event: dict[str, Any], context: Any) -> Any:
    """Keeps the worker busy until the test creates the image's release marker (or 60 s); says it has
    started."""
    MARKERS.mkdir(exist_ok=True)
    (MARKERS / f"held-{event['imageId']}").touch()
    deadline = time.monotonic() + 60
    while not (MARKERS / f"release-{event['imageId']}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return real(event, context)
