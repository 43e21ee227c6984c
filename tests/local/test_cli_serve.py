"""`imgpipe serve` and `imgpipe process` as a newcomer meets them: a banner whose curl command works
when pasted, a line per request and per finished execution, `history` finding the running stack
by itself, and `process` keeping every input's renditions."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.client import Client
from imgpipe.paths import checkout_root
from tests.serve_support import IMGPIPE, ServeProcess, serving

ROOT = checkout_root()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One `imgpipe serve` on free ports, its state file in a directory of its own."""
    with serving("--workers", "1", env={"XDG_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime"))}) as server:
        yield server


def jpeg(width: int = 400, height: int = 300) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_the_banners_curl_command_works_when_pasted_into_a_shell(served: ServeProcess, tmp_path: Path):
    command = served.wait_for(r"^\s+(curl .*upload-url.*)$")[1]
    (tmp_path / "photo.jpg").write_bytes(jpeg())

    result = subprocess.run(["bash", "-c", f"{command} -s"], capture_output=True, text=True, cwd=tmp_path, timeout=60)

    assert result.returncode == 0, result.stderr
    upload = json.loads(result.stdout)
    assert upload["uploadUrl"] and upload["imageId"]


def test_serve_logs_one_line_per_request_and_per_finished_execution(served: ServeProcess):
    client = Client(served.api_url)
    good = client.upload("good.jpg", jpeg(), "image/jpeg")
    bad = client.upload("bad.jpg", b"\x00" * 200, "image/jpeg")
    client.wait(good)
    client.wait(bad)

    assert served.wait_for(r"^\d\d:\d\d:\d\d GET /upload-url 200 \d+ ms$")
    assert served.wait_for(rf"^\d\d:\d\d:\d\d GET /images/{good} 200 \d+ ms$")
    assert served.wait_for(rf"^\d\d:\d\d:\d\d execution \w+ image {good} SUCCEEDED \d+ ms$")
    assert served.wait_for(rf"^\d\d:\d\d:\d\d execution \w+ image {bad} FAILED NOT_AN_IMAGE \d+ ms$")


def test_history_finds_the_running_serve_without_being_told_its_port(served: ServeProcess):
    client = Client(served.api_url)
    image_id = client.upload("history.jpg", jpeg(), "image/jpeg")
    client.wait(image_id)

    result = subprocess.run(
        [*IMGPIPE, "history", image_id], capture_output=True, text=True, env=served.env, cwd=ROOT, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert f"image {image_id}" in result.stdout and "SUCCEEDED" in result.stdout


def test_serve_removes_its_record_when_it_stops(tmp_path: Path):
    with serving("--workers", "0", "--log-level", "WARNING", env={"XDG_RUNTIME_DIR": str(tmp_path)}) as server:
        (record,) = (tmp_path / "imgpipe").glob("serve-*.json")
        assert json.loads(record.read_text())["pid"] == server.process.pid
        assert server.stop() == 0
        assert not record.exists()


def test_process_keeps_every_inputs_renditions_and_reports_a_missing_file(tmp_path: Path):
    picture = Image.new("RGB", (400, 300), (200, 40, 40))
    picture.save(tmp_path / "a.png")
    picture.save(tmp_path / "a.bmp")
    out = tmp_path / "out"

    result = subprocess.run(
        [*IMGPIPE, "process", "a.png", "missing.jpg", "a.bmp", "--out", str(out), "--settings",
         '{"renditions": [{"name": "small", "long_edge": 64}]}'],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1, result.stdout + result.stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == ["a.bmp/small.jpg", "a.png/small.jpg"]
    assert "missing.jpg: cannot read it (no such file or directory)" in result.stderr
    assert "1 of 3 files failed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_the_readmes_curl_flow_uploads_and_leaves_no_file_behind(served: ServeProcess, tmp_path: Path):
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"With it running, `curl` alone does the whole flow:\n\n```sh\n(.*?)```", readme, re.S)[1]
    script = block.replace("http://127.0.0.1:3000", served.api_url)
    (tmp_path / "samples").mkdir()
    shutil.copy(ROOT / "samples" / "ladybird.jpg", tmp_path / "samples")

    result = subprocess.run(["bash", "-ec", script], capture_output=True, text=True, cwd=tmp_path, timeout=60)

    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout.strip().splitlines()[-1])
    assert view["status"] in ("PROCESSING", "COMPLETE")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "samples",
        "samples/ladybird.jpg",
    ]
