"""The "image" Lambda layer: Pillow + pillow-heif for Linux/arm64 (CPython 3.12) and the parts of the
``imgpipe`` package that run on Lambda, built on this machine without Docker.

``pip install --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64
--only-binary=:all:`` downloads the published aarch64 wheels instead of building anything, so the
layer can be produced on any OS/architecture.  The imgpipe files shipped are those the functions
import (found by scanning their import statements, transitively) plus the core modules and
``imgpipe/image/``; the local runtime and the CLI never ship.
The same function backs the CDK asset (``image_layer_code``), ``make synth`` and the tests.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_

from .packaging import (
    FUNCTIONS_DIR,
    LAMBDA_PYTHON_VERSION,
    LAYER_ROOT,
    REPO_ROOT,
    bytecode_marker,
    compile_bytecode,
    local_bundling,
)
from .pins import locked_closure, locked_version

PACKAGE_DIR = REPO_ROOT / "imgpipe"
PIP_CACHE = REPO_ROOT / "build" / "pip-cache"

# manylinux2014 (glibc 2.17) as asked for by the classic recipe, plus manylinux_2_28: Pillow >= 12
# only publishes manylinux_2_27/2_28 aarch64 wheels.  The python3.12 Lambda runtime is Amazon Linux
# 2023 (glibc 2.34), so both are loadable there.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")

# Always shipped (the Lambda-side core, the adapters and the whole image package), whatever the
# import scan finds.
LAYER_FILES = ("__init__.py", "config.py", "errors.py", "runtime.py", "observability.py")
LAYER_PACKAGES = ("image", "adapters")
# Never shipped: the local runtime and the command line.
EXCLUDED = ("local/", "cli/")


# What the layer installs for the functions; pip resolves their dependencies, each held to the
# version uv.lock resolved (LAYER_DISTRIBUTIONS' closure in the lock, given to pip as constraints).
# boto3/botocore too: the runtime's bundled SDK may predate what the code uses (PutObject's
# IfNoneMatch needs botocore >= 1.35), and shipping the locked SDK makes Lambda run what the tests ran.
LAYER_DISTRIBUTIONS = ("pillow", "pillow-heif", "boto3", "botocore")


def requirements() -> list[str]:
    """``name==version`` of each of LAYER_DISTRIBUTIONS, as uv.lock has it."""
    return [f"{name}=={locked_version(name)}" for name in LAYER_DISTRIBUTIONS]


def constraints() -> list[str]:
    """Every package the layer may install, pinned to its uv.lock version."""
    return [f"{name}=={version}" for name, version in locked_closure(LAYER_DISTRIBUTIONS).items()]


def _module_file(module: str) -> Path | None:
    """``imgpipe.a.b`` → imgpipe/a/b.py or imgpipe/a/b/__init__.py (relative to PACKAGE_DIR)."""
    parts = module.split(".")[1:]
    if not parts:
        return Path("__init__.py")
    for candidate in (Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")):
        if (PACKAGE_DIR / candidate).is_file():
            return candidate
    return None


def _imgpipe_imports(source: Path) -> set[str]:
    """Modules of imgpipe that ``source`` imports, anywhere in the file (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "imgpipe" or a.name.startswith("imgpipe.")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "imgpipe" or node.module.startswith("imgpipe."))
        ):
            found.add(node.module)
            # `from imgpipe.image import encoding` imports the submodule imgpipe.image.encoding
            found |= {f"{node.module}.{a.name}" for a in node.names if _module_file(f"{node.module}.{a.name}")}
    return found


def imported_files() -> set[Path]:
    """imgpipe files the functions import, transitively, with the __init__.py of every package on
    the way (relative to PACKAGE_DIR)."""
    pending = [p for p in FUNCTIONS_DIR.rglob("*.py") if "__pycache__" not in p.parts]
    seen_sources: set[Path] = set()
    files: set[Path] = set()
    while pending:
        source = pending.pop()
        if source in seen_sources:
            continue
        seen_sources.add(source)
        for module in _imgpipe_imports(source):
            rel = _module_file(module)
            if rel is None:
                continue  # a name imported from a module, not a module itself
            for parent in rel.parents:
                if (PACKAGE_DIR / parent / "__init__.py").is_file():
                    files.add(parent / "__init__.py")
            files.add(rel)
            pending.append(PACKAGE_DIR / rel)
    return files


def package_files() -> list[Path]:
    """The imgpipe files shipped in the layer, relative to the package directory, sorted: what the
    functions import (``imported_files``) plus LAYER_FILES and LAYER_PACKAGES, minus EXCLUDED."""
    files = set(imported_files()) | {Path(name) for name in LAYER_FILES}
    for package in LAYER_PACKAGES:
        files |= {
            p.relative_to(PACKAGE_DIR) for p in (PACKAGE_DIR / package).rglob("*.py") if "__pycache__" not in p.parts
        }
    excluded = [f for f in files if any(f.as_posix().startswith(e) for e in EXCLUDED)]
    if excluded:
        raise RuntimeError(f"functions import modules that must not ship to Lambda: {sorted(map(str, excluded))}")
    return sorted(files)


def content_hash() -> str:
    """Changes whenever the layer's content would: pinned versions, platform or any shipped file."""
    digest = hashlib.sha256()
    digest.update(
        "\n".join([*requirements(), *constraints(), *PLATFORMS, LAMBDA_PYTHON_VERSION, bytecode_marker()]).encode()
    )
    for rel in package_files():
        digest.update(str(rel).encode() + b"\0" + (PACKAGE_DIR / rel).read_bytes())
    return digest.hexdigest()


def build_image_layer(out_dir: str | Path, *, pip_cache: str | Path | None = PIP_CACHE) -> Path:
    """Build the layer tree into ``out_dir``: ``<out_dir>/python/{PIL,pillow_heif,imgpipe,...}``.

    Returns the ``python`` directory.  Raises ``subprocess.CalledProcessError`` if pip fails.
    """
    target = Path(out_dir) / "python"
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "install",
        *(arg for platform in PLATFORMS for arg in ("--platform", platform)),
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target),
        "--upgrade",
        "--no-compile",  # this interpreter's bytecode would be useless on 3.12: compiled below
        "--disable-pip-version-check",
        "--quiet",
    ]  # fmt: skip
    if pip_cache is not None:
        Path(pip_cache).mkdir(parents=True, exist_ok=True)
        command += ["--cache-dir", str(pip_cache)]
    with tempfile.TemporaryDirectory() as scratch:  # not out_dir: that is the layer's content
        constraints_file = Path(scratch) / "constraints.txt"
        constraints_file.write_text("\n".join(constraints()) + "\n")
        subprocess.run([*command, "--constraint", str(constraints_file), *requirements()], check=True)

    package_target = target / "imgpipe"
    if package_target.exists():
        shutil.rmtree(package_target)
    for rel in package_files():
        destination = package_target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PACKAGE_DIR / rel, destination)
    compile_bytecode(target, LAYER_ROOT)
    return target


def image_layer_code() -> lambda_.Code:
    """The layer's asset.  Its hash is ``content_hash()``: the asset changes only when the pinned
    wheels or the shipped imgpipe files do, and nothing large gets fingerprinted.  When bundling is
    skipped (context ``aws:cdk:bundling-stacks`` = ``[]``, as in the tests) nothing is built."""
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=content_hash(),
        bundling=local_bundling(build_image_layer),
    )


if __name__ == "__main__":  # python -m stacks.layer <out_dir>
    out = build_image_layer(sys.argv[1] if len(sys.argv) > 1 else REPO_ROOT / "build" / "image-layer")
    print(out)
