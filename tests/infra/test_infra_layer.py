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
from infra_support import REPO_ROOT

from imgpipe import topology
from stacks import layer, packaging, pins

LAMBDA_PYTHON = packaging.lambda_python()
CP = f"cp{packaging.LAMBDA_PYTHON_NODOT}"  # the wheel tag of the runtime's CPython
needs_lambda_python = pytest.mark.skipif(
    LAMBDA_PYTHON is None, reason=f"no Python {packaging.LAMBDA_PYTHON_VERSION} here to compile or load bytecode"
)
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def pyc_header(path: Path) -> tuple[bytes, int]:
    header = path.read_bytes()[:8]
    return header[:4], int.from_bytes(header[4:8], "little")


def lambda_python_magic() -> bytes:
    out = subprocess.run(
        [LAMBDA_PYTHON, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return bytes.fromhex(out.stdout.strip())


def wheel_tags(site: Path, distribution: str) -> list[str]:
    (dist_info,) = site.glob(f"{distribution}-*.dist-info")
    return [
        line.split(":", 1)[1].strip()
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag:")
    ]


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layer.build_image_layer(tmp_path_factory.mktemp("image-layer"), pip_cache=layer.PIP_CACHE)


@pytest.mark.network
def test_layer_ships_runtime_cpython_manylinux_aarch64_pillow_and_pillow_heif(built_layer: Path) -> None:
    assert built_layer.name == "python"  # Lambda puts <layer>/python on sys.path
    for distribution in ("pillow", "pillow_heif"):
        tags = wheel_tags(built_layer, distribution)
        assert tags and all(re.fullmatch(rf"{CP}-{CP}-manylinux\w*_aarch64", tag) for tag in tags), (
            distribution,
            tags,
        )
    assert (built_layer / f"pillow-{pins.locked_version('pillow')}.dist-info").is_dir()
    assert list((built_layer / "PIL").glob(f"_imaging.{packaging.CACHE_TAG}-aarch64-linux-gnu.so"))


@pytest.mark.network
def test_layer_ships_the_locked_versions_of_everything_it_installs(built_layer: Path) -> None:
    """The layer is built from uv.lock: what the tests ran with (PutObject's IfNoneMatch needs
    botocore >= 1.35; the runtime's bundled SDK may be older), dependencies included."""
    installed = {
        pins.normalize(dist.name.split("-")[0]): dist.name.removesuffix(".dist-info").split("-", 1)[1]
        for dist in built_layer.glob("*.dist-info")
    }
    assert {"boto3", "botocore", "pillow", "pillow-heif", "s3transfer", "urllib3"} <= set(installed)
    locked = pins.locked_closure(layer.LAYER_DISTRIBUTIONS)
    assert installed == {name: locked[name] for name in installed}


@pytest.mark.network
def test_layer_ships_the_lambda_parts_of_imgpipe_only(built_layer: Path) -> None:
    package = built_layer / "imgpipe"
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"__init__.py", "config.py", "errors.py", "runtime.py", "observability.py"} <= shipped
    adapters = {f"adapters/{p.name}" for p in (REPO_ROOT / "imgpipe" / "adapters").glob("*.py")}
    assert {"adapters/__init__.py", "adapters/s3.py", "adapters/dynamodb.py"} <= adapters <= shipped
    assert {"image/renditions.py", "image/intermediate.py", "image/encoding.py"} <= shipped
    assert (package / "config.py").read_bytes() == (REPO_ROOT / "imgpipe" / "config.py").read_bytes()
    assert not any(p.startswith(("local/", "cli/")) for p in shipped)
    # Bytecode only for the Lambda runtime's Python (or none at all without that interpreter).
    assert all(p.endswith(f".{packaging.CACHE_TAG}.pyc") for p in shipped if "__pycache__" in p or p.endswith(".pyc"))


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
@pytest.mark.parametrize("step", topology.STEPS, ids=lambda s: s.name)
def test_each_handler_imports_from_its_code_asset_and_the_layer_alone(
    step: topology.Step, built_layer: Path, tmp_path: Path
) -> None:
    asset_dir = packaging.build_function_code(step, tmp_path)  # what the function's bundling ships
    handler_module = step.lambda_handler.rsplit(".", 1)[0]
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_CHECK,
         str(asset_dir), str(built_layer), site.getsitepackages()[0], handler_module],
        capture_output=True, text=True, env=env, cwd=asset_dir, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded, "the handler imports nothing from imgpipe?"
    for name, path in loaded.items():
        assert path and Path(path).is_relative_to(built_layer), (name, path)


@pytest.mark.network
@needs_lambda_python
def test_layer_ships_unchecked_bytecode_of_the_runtime_python_for_every_module(built_layer: Path) -> None:
    """/opt is read-only: a module without valid bytecode is compiled at every cold start, and asset
    zips drop modification times, so only hash-based, unchecked .pyc files are valid there."""
    magic = lambda_python_magic()
    sources = [p for p in built_layer.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 200
    for package in ("boto3", "botocore", "s3transfer", "urllib3", "PIL", "pillow_heif", "imgpipe"):
        assert any(p.is_relative_to(built_layer / package) for p in sources), package
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{packaging.CACHE_TAG}.pyc"
        assert pyc.is_file(), source
        assert pyc_header(pyc) == (magic, UNCHECKED_HASH), pyc


@pytest.mark.network
@needs_lambda_python
def test_runtime_python_loads_layer_bytecode_without_reading_the_source(built_layer: Path, tmp_path: Path) -> None:
    package = tmp_path / "imgpipe"
    (package / "__pycache__").mkdir(parents=True)
    for name in ("__init__", "errors"):
        (package / f"{name}.py").write_text(
            "raise SystemExit('the source was compiled instead of the shipped bytecode')\n"
        )
        pyc = f"__pycache__/{name}.{packaging.CACHE_TAG}.pyc"
        (package / pyc).write_bytes((built_layer / "imgpipe" / pyc).read_bytes())
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); import imgpipe.errors as e; "
        "print(e.PermanentError.__name__, e.__spec__.cached)"
    )
    result = subprocess.run(
        [LAMBDA_PYTHON, "-S", "-c", check, str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "PermanentError"


@pytest.mark.parametrize("step", topology.STEPS, ids=lambda s: s.name)
def test_function_asset_is_the_step_package_with_its_bytecode(step: topology.Step, tmp_path: Path) -> None:
    out = packaging.build_function_code(step, tmp_path)
    shipped = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    sources = {p for p in shipped if not p.endswith(".pyc")}
    package = REPO_ROOT / "functions" / step.package
    own = {f"{step.package}/{p.name}" for p in package.glob("*.py")}
    assert sources == own | {"__init__.py"}
    assert {f"{step.package}/handler.py", f"{step.package}/logic.py"} <= sources
    assert not any(
        p.startswith(other.package + "/") for other in topology.STEPS if other.package != step.package for p in shipped
    )
    if LAMBDA_PYTHON is not None:
        pyc = out / step.package / "__pycache__" / f"handler.{packaging.CACHE_TAG}.pyc"
        assert pyc_header(pyc) == (lambda_python_magic(), UNCHECKED_HASH)


def test_bytecode_is_compiled_for_the_functions_runtime() -> None:
    from stacks.functions import RUNTIME

    assert RUNTIME.name == packaging.LAMBDA_RUNTIME_NAME


@needs_lambda_python
def test_the_bytecode_compiler_found_is_the_runtime_python() -> None:
    probe = "import sys, platform; print(platform.python_implementation(), '%d.%d' % sys.version_info[:2])"
    out = subprocess.run([LAMBDA_PYTHON, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["CPython", packaging.LAMBDA_PYTHON_VERSION]


def test_asset_hashes_change_when_bytecode_does(monkeypatch: pytest.MonkeyPatch) -> None:
    layer_before, function_before = layer.content_hash(), packaging.function_hash(topology.RESIZE)
    monkeypatch.setattr(layer, "bytecode_marker", lambda: "bytecode:test")
    monkeypatch.setattr(packaging, "bytecode_marker", lambda: "bytecode:test")
    assert layer.content_hash() != layer_before
    assert packaging.function_hash(topology.RESIZE) != function_before


def test_layer_requirements_and_constraints_are_the_lock_files_versions() -> None:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())["package"]
    locked = {pins.normalize(p["name"]): p["version"] for p in lock}
    requirements = dict(r.split("==") for r in layer.requirements())
    assert set(requirements) == set(layer.LAYER_DISTRIBUTIONS)
    assert requirements == {name: locked[name] for name in requirements}
    constraints = dict(c.split("==") for c in layer.constraints())
    assert {"jmespath", "python-dateutil", "s3transfer", "urllib3"} <= set(constraints)  # boto3's own
    assert constraints == {name: locked[name] for name in constraints}
    # pyproject pins Pillow exactly too: the lock cannot have resolved anything else.
    assert pins.exact_pin("pillow") == requirements["pillow"]


def test_pins_come_from_the_files_not_from_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.0.0")
    assert "0.0.0" not in "".join(layer.requirements() + layer.constraints())
    with pytest.raises(pins.PinError, match="pin pillow-heif exactly"):
        pins.exact_pin("pillow-heif")  # a range in pyproject: only the lock has its version
    with pytest.raises(pins.PinError, match="no single version"):
        pins.locked_version("not-a-locked-package")


def test_layer_asset_hash_follows_shipped_files_and_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    before = layer.content_hash()
    assert layer.content_hash() == before  # deterministic
    locked = layer.constraints()
    monkeypatch.setattr(layer, "constraints", lambda: [*locked, "urllib3==0.0.1"])  # a dependency moved
    assert layer.content_hash() != before
