"""What the project pins, read from its files rather than from whatever this machine has installed.

* ``exact_pin`` — a dependency pyproject.toml pins with ``==`` (the Powertools release, whose
  AWS-published layer the functions use);
* ``locked_version`` / ``locked_closure`` — the versions uv.lock resolved (the image layer's wheels
  and everything they pull in), so the deployed Lambda runs the versions the tests ran with, and a
  deployer's stray ``pip install`` cannot change what ships.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from typing import Any

from .packaging import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"
LOCK_FILE = REPO_ROOT / "uv.lock"


class PinError(RuntimeError):
    """The project's files do not pin what the deployment needs pinned."""


def normalize(name: str) -> str:
    """PEP 503 name: ``Pillow_HEIF`` and ``pillow-heif`` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def exact_pin(distribution: str) -> str:
    """The version pyproject.toml's ``[project] dependencies`` pin ``distribution`` to with ``==``."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for dependency in dependencies:
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*(\[[^\]]*\])?\s*==\s*([\w.]+)\s*(;.*)?", dependency)
        if match and normalize(match.group(1)) == normalize(distribution):
            return match.group(3)
    raise PinError(f"pyproject.toml must pin {distribution} exactly (`{distribution}==<version>`)")


@functools.cache
def _lock() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """uv.lock as {name: version} and {name: dependency names}, for packages it locks to one version."""
    packages: list[dict[str, Any]] = tomllib.loads(LOCK_FILE.read_text())["package"]
    versions: dict[str, set[str]] = {}
    for package in packages:
        versions.setdefault(normalize(package["name"]), set()).add(package["version"])
    single = {name: next(iter(found)) for name, found in versions.items() if len(found) == 1}
    dependencies: dict[str, tuple[str, ...]] = {}
    for package in packages:
        name = normalize(package["name"])
        wanted = [*package.get("dependencies", [])]
        for group in package.get("optional-dependencies", {}).values():
            wanted += group
        dependencies[name] = (*dependencies.get(name, ()), *(normalize(d["name"]) for d in wanted))
    return single, dependencies


def locked_version(distribution: str) -> str:
    versions, _ = _lock()
    name = normalize(distribution)
    if name not in versions:
        raise PinError(f"uv.lock holds no single version of {distribution}; run `make lock`")
    return versions[name]


def locked_closure(distributions: Iterable[str]) -> dict[str, str]:
    """``distributions`` and everything they depend on, transitively, at their locked versions.
    Markers are ignored, so this is a superset of what one platform installs: as pip constraints
    that is harmless (a constraint only binds a package that gets installed)."""
    versions, dependencies = _lock()
    pending = [normalize(d) for d in distributions]
    closure: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure[name] = locked_version(name)
        pending += [d for d in dependencies.get(name, ()) if d in versions and d not in closure]
    return dict(sorted(closure.items()))
