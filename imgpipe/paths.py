"""The checkout: the one place that finds the repository's root directory.

The CDK app, the local runtime (state machine definition, function handlers), the benchmarks and
the tests read files that live beside the package, not in it.  They find them here, by what a
checkout holds, rather than by counting parent directories from wherever they happen to be.
"""

from __future__ import annotations

import functools
from pathlib import Path

# What only a checkout of this repository holds: the project file and the state machine's ASL.
MARKER_FILE = "pyproject.toml"
MARKER_DIR = "statemachine"


class NotACheckoutError(RuntimeError):
    """imgpipe runs from an installed copy with no checkout above it."""


def is_checkout(path: Path) -> bool:
    return (path / MARKER_FILE).is_file() and (path / MARKER_DIR).is_dir()


@functools.cache
def checkout_root(start: Path | None = None) -> Path:
    """The checkout holding ``start`` (default: this package), found by its markers.

    Raises NotACheckoutError, saying what to do, when no directory above ``start`` is one."""
    origin = (start or Path(__file__)).resolve()
    for candidate in (origin, *origin.parents):
        if is_checkout(candidate):
            return candidate
    raise NotACheckoutError(
        f"{origin} is not inside a checkout of imgpipe (no directory above it holds {MARKER_FILE} and "
        f"{MARKER_DIR}/); the local stack, the CDK app and the tests need the repository: "
        "clone it and install it editable (make install, or pip install -e .)"
    )
