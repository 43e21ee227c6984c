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
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from imgpipe.config import Step

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAMBDA_PYTHON_VERSION = "3.12"  # stacks.functions.RUNTIME
LAMBDA_PYTHON_ENV = "IMGPIPE_LAMBDA_PYTHON"
FUNCTION_ROOT = "/var/task"  # where Lambda unpacks the function's code
LAYER_ROOT = "/opt/python"  # where a layer's python/ directory lands
log = logging.getLogger(__name__)


def _version_of(python: str) -> str | None:
    try:
        result = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.cache
def lambda_python() -> str | None:
    """An interpreter of the Lambda runtime's Python version, or None."""
    candidates = [os.environ.get(LAMBDA_PYTHON_ENV), shutil.which(f"python{LAMBDA_PYTHON_VERSION}")]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{LAMBDA_PYTHON_VERSION}.*/bin/python{LAMBDA_PYTHON_VERSION}"), reverse=True)
    if "%d.%d" % sys.version_info[:2] == LAMBDA_PYTHON_VERSION:
        candidates.append(sys.executable)
    for candidate in candidates:
        if candidate and _version_of(candidate) == LAMBDA_PYTHON_VERSION:
            return candidate
    return None


def bytecode_marker() -> str:
    """Part of every asset hash: an asset built with bytecode differs from one without."""
    return f"bytecode:cpython-{LAMBDA_PYTHON_VERSION}:unchecked-hash" if lambda_python() else "bytecode:none"


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
    # Some packages carry files for other Python versions that do not compile (compileall reports
    # them and carries on); the modules Lambda imports are checked by the tests.
    subprocess.run(
        [python, "-m", "compileall", "-q", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", "-d", runtime_root, str(tree)],
        check=False,
    )  # fmt: skip
    return True


def code_exclusions(step: Step) -> list[str]:
    """Asset root is functions/ (handler ``<step>.handler.handler``); ship only this step's package."""
    others = sorted(p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir() and p.name != step.package)
    return [*others, "__pycache__", "*.pyc"]


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
class LocalFunctionBundling:
    """CDK local bundling: always succeeds, so the Docker image is never used."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        build_function_code(self.step, output_dir)
        return True


def function_code(step: Step) -> lambda_.Code:
    """The step's package with bytecode.  When bundling is skipped (tests), the asset is functions/
    minus ``code_exclusions``: the same files without the bytecode."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=code_exclusions(step),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=function_hash(step),
        bundling=BundlingOptions(image=DockerImage.from_registry("unused"), local=LocalFunctionBundling(step)),
    )
