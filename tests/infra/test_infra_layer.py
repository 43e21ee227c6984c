"""The image layer: built for real (pip downloads the aarch64 wheels from PyPI; ~10-30 s cold,
cached in build/pip-cache), plus the cheap properties of its asset."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from infra_support import REPO_ROOT

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
def test_layer_ships_the_lambda_parts_of_imgpipe_only(built_layer: Path) -> None:
    package = built_layer / "imgpipe"
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"__init__.py", "config.py", "errors.py", "aws.py", "runtime.py", "observability.py"} <= shipped
    assert "image/core.py" in shipped
    assert (package / "config.py").read_bytes() == (REPO_ROOT / "imgpipe" / "config.py").read_bytes()
    assert not any(p.startswith("local/") or p == "cli.py" for p in shipped)
    assert not any("__pycache__" in p or p.endswith(".pyc") for p in shipped)


def test_layer_pins_pillow_as_pyproject_does() -> None:
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert layer.pillow_requirement() in {d.replace(" ", "").lower() for d in dependencies}
    assert re.fullmatch(r"pillow-heif==\d+(\.\d+)+", layer.pillow_heif_requirement())


def test_layer_asset_hash_follows_shipped_files_and_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    before = layer.content_hash()
    assert layer.content_hash() == before  # deterministic
    monkeypatch.setattr(layer, "pillow_heif_requirement", lambda: "pillow-heif==0.0.1")
    assert layer.content_hash() != before
