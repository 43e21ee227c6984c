"""The image layer: built for real (pip downloads the aarch64 wheels from PyPI; ~10-30 s cold,
cached in build/pip-cache), plus the cheap properties of its asset."""

from __future__ import annotations

import json
import os
import re
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from infra_support import REPO_ROOT, STACK_NAME, Synth

from imgpipe import config

from stacks import layer


def wheel_tags(site: Path, distribution: str) -> list[str]:
    (dist_info,) = site.glob(f"{distribution}-*.dist-info")
    return [line.split(":", 1)[1].strip() for line in (dist_info / "WHEEL").read_text().splitlines() if line.startswith("Tag:")]


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layer.build_image_layer(tmp_path_factory.mktemp("image-layer"), pip_cache=layer.PIP_CACHE)


@pytest.mark.network
def test_layer_ships_cp312_manylinux_aarch64_pillow_and_pillow_heif(built_layer: Path) -> None:
    assert built_layer.name == "python"  # Lambda puts <layer>/python on sys.path
    for distribution in ("pillow", "pillow_heif"):
        tags = wheel_tags(built_layer, distribution)
        assert tags and all(re.fullmatch(r"cp312-cp312-manylinux\w*_aarch64", tag) for tag in tags), (distribution, tags)
    pillow_pin = layer.pillow_requirement().split("==")[1]
    assert (built_layer / f"pillow-{pillow_pin}.dist-info").is_dir()
    assert list((built_layer / "PIL").glob("_imaging.cpython-312-aarch64-linux-gnu.so"))


@pytest.mark.network
def test_layer_ships_the_sdk_the_tests_ran_with(built_layer: Path) -> None:
    """PutObject's IfNoneMatch needs botocore >= 1.35; the runtime's bundled SDK may be older."""
    import importlib.metadata

    for name in ("boto3", "botocore"):
        assert (built_layer / f"{name}-{importlib.metadata.version(name)}.dist-info").is_dir(), name


@pytest.mark.network
def test_layer_ships_the_lambda_parts_of_imgpipe_only(built_layer: Path) -> None:
    package = built_layer / "imgpipe"
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"__init__.py", "config.py", "errors.py", "aws.py", "runtime.py", "observability.py"} <= shipped
    assert "image/core.py" in shipped
    assert (package / "config.py").read_bytes() == (REPO_ROOT / "imgpipe" / "config.py").read_bytes()
    assert not any(p.startswith("local/") or p == "cli.py" for p in shipped)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in shipped)


# Imports each handler the way Lambda would: the function's own code asset first, then the layer's
# python/ directory.  This machine is not arm64, so the layer's Pillow cannot load here: the venv's
# site-packages (Pillow, Powertools; no .pth files, so not the editable imgpipe) go before the layer.
IMPORT_CHECK = """
import importlib, json, sys
asset, layer, site_packages, module = sys.argv[1:5]
sys.path[:0] = [asset, site_packages, layer]
importlib.import_module(module)
print(json.dumps({name: getattr(mod, "__file__", None) for name, mod in sys.modules.items()
                  if name == "imgpipe" or name.startswith("imgpipe.")}))
"""


@pytest.mark.network
@pytest.mark.parametrize("step", [s.name for s in config.STEPS])
def test_each_handler_imports_from_its_code_asset_and_the_layer_alone(step: str, built_layer: Path, synth: Synth) -> None:
    manifest = json.loads((synth.outdir / f"{STACK_NAME}.assets.json").read_text())
    fn = synth.stack.functions.functions[step]
    key = synth.resource(synth.logical_id(fn))["Properties"]["Code"]["S3Key"]
    (asset,) = [a for a in manifest["files"].values() if key in json.dumps(a["destinations"])]
    asset_dir = synth.outdir / asset["source"]["path"]
    handler_module = config.STEPS[[s.name for s in config.STEPS].index(step)].lambda_handler.rsplit(".", 1)[0]
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_CHECK, str(asset_dir), str(built_layer), site.getsitepackages()[0], handler_module],
        capture_output=True, text=True, env=env, cwd=asset_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded, "the handler imports nothing from imgpipe?"
    for name, path in loaded.items():
        assert path and Path(path).is_relative_to(built_layer), (name, path)


def test_layer_pins_pillow_as_pyproject_does() -> None:
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert layer.pillow_requirement() in {d.replace(" ", "").lower() for d in dependencies}
    assert re.fullmatch(r"pillow-heif==\d+(\.\d+)+", layer.pillow_heif_requirement())


def test_layer_asset_hash_follows_shipped_files_and_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    before = layer.content_hash()
    assert layer.content_hash() == before  # deterministic
    monkeypatch.setattr(layer, "pillow_heif_requirement", lambda: "pillow-heif==0.0.1")
    assert layer.content_hash() != before
