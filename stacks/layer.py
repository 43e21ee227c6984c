"""The "image" Lambda layer: Pillow + pillow-heif for Linux/arm64 (CPython 3.12) and the parts of the
``imgpipe`` package that run on Lambda, built on this machine without Docker.

``pip install --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64
--only-binary=:all:`` downloads the published aarch64 wheels instead of building anything, so the
layer can be produced on any OS/architecture.
The same function backs the CDK asset (``image_layer_code``), ``make synth`` and the tests.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "imgpipe"
PIP_CACHE = REPO_ROOT / "build" / "pip-cache"

# manylinux2014 (glibc 2.17) as asked for by the classic recipe, plus manylinux_2_28: Pillow >= 12
# only publishes manylinux_2_27/2_28 aarch64 wheels.  The python3.12 Lambda runtime is Amazon Linux
# 2023 (glibc 2.34), so both are loadable there.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
PYTHON_VERSION = "3.12"

# What Lambdas import from imgpipe; the local runtime (imgpipe/local/) and the CLI stay out.
LAYER_FILES = ("__init__.py", "config.py", "errors.py", "aws.py", "runtime.py", "observability.py")
LAYER_PACKAGES = ("image",)


def pillow_requirement() -> str:
    """``pillow==<version>`` exactly as pinned in pyproject.toml (the layer runs what tests run)."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        match = re.fullmatch(r"\s*pillow\s*==\s*([\w.]+)\s*", dep, flags=re.IGNORECASE)
        if match:
            return f"pillow=={match.group(1)}"
    raise RuntimeError("pyproject.toml must pin pillow with '=='")


def pillow_heif_requirement() -> str:
    """pillow-heif at the version installed here (pyproject allows a range; the layer pins one)."""
    return f"pillow-heif=={importlib.metadata.version('pillow_heif')}"


def requirements() -> list[str]:
    return [pillow_requirement(), pillow_heif_requirement()]


def package_files() -> list[Path]:
    """The imgpipe files shipped in the layer, relative to the package directory, sorted."""
    files = [Path(name) for name in LAYER_FILES]
    for package in LAYER_PACKAGES:
        files += sorted(
            p.relative_to(PACKAGE_DIR)
            for p in (PACKAGE_DIR / package).rglob("*.py")
            if "__pycache__" not in p.parts
        )
    return files


def content_hash() -> str:
    """Changes whenever the layer's content would: pinned versions, platform or any shipped file."""
    digest = hashlib.sha256()
    digest.update("\n".join([*requirements(), *PLATFORMS, PYTHON_VERSION]).encode())
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
        "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target),
        "--upgrade",
        "--no-compile",  # .pyc files compiled by this interpreter would be useless on 3.12
        "--disable-pip-version-check",
        "--quiet",
    ]  # fmt: skip
    if pip_cache is not None:
        Path(pip_cache).mkdir(parents=True, exist_ok=True)
        command += ["--cache-dir", str(pip_cache)]
    subprocess.run([*command, *requirements()], check=True)

    package_target = target / "imgpipe"
    if package_target.exists():
        shutil.rmtree(package_target)
    for rel in package_files():
        destination = package_target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PACKAGE_DIR / rel, destination)
    return target


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """CDK local bundling: always succeeds, so the Docker image is never used."""

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        build_image_layer(output_dir)
        return True


def image_layer_code() -> lambda_.Code:
    """The layer's asset.  Its hash is ``content_hash()``: the asset changes only when the pinned
    wheels or the shipped imgpipe files do, and nothing large gets fingerprinted.  When bundling is
    skipped (context ``aws:cdk:bundling-stacks`` = ``[]``, as in the tests) nothing is built."""
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=content_hash(),
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused"),  # local bundling always succeeds
            local=LocalLayerBundling(),
        ),
    )


if __name__ == "__main__":  # python -m stacks.layer <out_dir>
    out = build_image_layer(sys.argv[1] if len(sys.argv) > 1 else REPO_ROOT / "build" / "image-layer")
    print(out)
