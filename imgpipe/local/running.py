"""Where the running ``imgpipe serve`` stacks are, so other commands find them without being told.

Each ``serve`` writes one small JSON file (its pid and endpoints) into a per-user directory when it
is up, and removes it when it stops.  ``imgpipe history`` reads them.  A stack killed without
cleaning up leaves a file whose pid is gone: readers skip it and delete it.

The directory is ``$XDG_RUNTIME_DIR/imgpipe`` (per user, cleared at logout) or, without one,
``<temp>/imgpipe-<uid>``, created private to the user.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

PREFIX = "serve-"


@dataclass(frozen=True)
class RunningStack:
    pid: int
    api_url: str
    aws_endpoint: str


def state_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "imgpipe"
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"imgpipe-{user}"


def register(api_url: str, aws_endpoint: str) -> Path:
    """Record this process's stack; returns the file to pass to ``unregister``."""
    directory = state_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{PREFIX}{os.getpid()}.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(RunningStack(os.getpid(), api_url, aws_endpoint))))
    partial.replace(path)  # readers never see half a file
    return path


def unregister(path: Path) -> None:
    path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that pid: it is alive, if not ours
        return True
    return True


def running() -> list[RunningStack]:
    """The live stacks, oldest file first; files left by stacks that died are removed."""
    found: list[tuple[float, RunningStack]] = []
    for path in state_dir().glob(f"{PREFIX}*.json"):
        try:
            started = path.stat().st_mtime
            stack = RunningStack(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # removed right now, or not ours: not a stack to offer
        if _alive(stack.pid):
            found.append((started, stack))
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return [stack for _, stack in sorted(found, key=lambda item: item[0])]
