"""What the Lambda code assets contain: sources plus bytecode for the runtime's Python.

Lambda's code (/var/task) and layers (/opt) are read-only, so a module without a usable ``.pyc``
is compiled from source at every cold start and the result thrown away.  For the SDK alone that
is ~190 ms (``import boto3; boto3.client("s3")``: 370 ms from source, 175 ms from bytecode), paid by
every function, since the image layer ships its own boto3 ahead of the runtime's.  So the assets
carry bytecode compiled by an interpreter of the runtime's version, in ``unchecked-hash`` mode:
asset zips do not keep modification times, and a timestamp-checked ``.pyc`` would be ignored.

Bytecode is version-specific and cannot be produced by another Python.  The interpreter is found
as ``$IMGPIPE_LAMBDA_PYTHON``, ``python3.12`` on the PATH, or a pyenv 3.12; without one the assets
ship sources only (they still work) and the build says what that costs.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from imgpipe.paths import checkout_root
from imgpipe.topology import Step

REPO_ROOT = checkout_root()
FUNCTIONS_DIR = REPO_ROOT / "functions"
# The Lambda runtime's Python: written here only.  The function runtime (stacks.functions.RUNTIME),
# the Powertools layer's name, the image layer's wheels and the shipped bytecode all follow from it.
LAMBDA_PYTHON_VERSION = "3.12"
LAMBDA_PYTHON_NODOT = LAMBDA_PYTHON_VERSION.replace(".", "")  # "312", as wheel tags and layer names write it
LAMBDA_RUNTIME_NAME = f"python{LAMBDA_PYTHON_VERSION}"  # Lambda's runtime identifier
LAMBDA_PYTHON_ENV = "IMGPIPE_LAMBDA_PYTHON"
FUNCTION_ROOT = "/var/task"  # where Lambda unpacks the function's code
LAYER_ROOT = "/opt/python"  # where a layer's python/ directory lands
CACHE_TAG = f"cpython-{LAMBDA_PYTHON_NODOT}"  # the runtime is CPython


def _cache_tag_of(python: str) -> str | None:
    """The bytecode an interpreter writes (``cpython-312``): CPython and the version, not PyPy 3.12."""
    try:
        result = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's Python version, or None."""
    candidates = [os.environ.get(LAMBDA_PYTHON_ENV), shutil.which(LAMBDA_RUNTIME_NAME)]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(
        glob.glob(f"{pyenv_root}/versions/{LAMBDA_PYTHON_VERSION}.*/bin/python{LAMBDA_PYTHON_VERSION}"), reverse=True
    )
    if sys.implementation.cache_tag == CACHE_TAG:
        candidates.append(sys.executable)
    for candidate in candidates:
        if candidate and _cache_tag_of(candidate) == CACHE_TAG:
            return candidate
    return None


def bytecode_marker() -> str:
    """Part of every asset hash: whether bytecode was compiled, and how assets are built (this
    file), so a change to either gives new assets instead of reusing staged ones."""
    compiled = f"bytecode:{CACHE_TAG}:unchecked-hash" if lambda_python() else "bytecode:none"
    return compiled + ":" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def compile_bytecode(tree: Path, runtime_root: str) -> bool:
    """Compile every module under ``tree`` for the runtime; tracebacks name ``runtime_root/...``.
    False (and a warning) when no interpreter of the runtime's version is available."""
    python = lambda_python()
    if python is None:
        print(
            f"WARNING: no Python {LAMBDA_PYTHON_VERSION} found (set {LAMBDA_PYTHON_ENV}); {tree.name} ships without "
            "bytecode and every cold start compiles it (~190 ms more for boto3 alone)",
            file=sys.stderr,
        )
        return False
    # compileall carries on past a file it cannot compile (some packages ship files for other Python
    # versions) and prints it; those modules are then compiled at import, like every module was.
    result = subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-d", runtime_root, str(tree)],
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        print(
            f"WARNING: some modules under {tree} did not compile for Python {LAMBDA_PYTHON_VERSION} (listed above)",
            file=sys.stderr,
        )
    return True


def code_exclusions(step: Step) -> list[str]:
    """Asset root is functions/ (handler ``<step>.handler.handler``); ship only this step's package."""
    others = {p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and p.name != step.package}
    return [*sorted(others | {"__pycache__"}), "*.pyc"]


def function_sources(step: Step) -> list[Path]:
    """The files of the asset, as ``code_exclusions`` leaves them (relative to functions/)."""
    skipped = set(code_exclusions(step))
    return sorted(
        p.relative_to(FUNCTIONS_DIR)
        for p in FUNCTIONS_DIR.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and not skipped & set(p.relative_to(FUNCTIONS_DIR).parts)
    )


def build_function_code(step: Step, out_dir: str | Path) -> Path:
    """The function's asset, the same files the source asset has, plus their bytecode.  Shared code
    comes from the image layer."""
    out = Path(out_dir)
    for rel in function_sources(step):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(FUNCTIONS_DIR / rel, out / rel)
    compile_bytecode(out, FUNCTION_ROOT)
    return out


def function_hash(step: Step) -> str:
    digest = hashlib.sha256(bytecode_marker().encode())
    for rel in function_sources(step):
        digest.update(rel.as_posix().encode() + b"\0" + (FUNCTIONS_DIR / rel).read_bytes())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class LocalBundling:
    """CDK local bundling that always succeeds, so the Docker image is never used."""

    def __init__(self, build: Callable[[str], object]) -> None:
        self.build = build

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        self.build(output_dir)
        return True


def local_bundling(build: Callable[[str], object]) -> BundlingOptions:
    return BundlingOptions(image=DockerImage.from_registry("unused"), local=LocalBundling(build))


def function_code(step: Step) -> lambda_.Code:
    """The step's package with bytecode (``build_function_code``).  When bundling is skipped (the
    tests), CDK stages functions/ as it is and only the hash tells the steps' assets apart."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=code_exclusions(step),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=function_hash(step),
        bundling=local_bundling(lambda out: build_function_code(step, out)),
    )
