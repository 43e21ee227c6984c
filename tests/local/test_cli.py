"""The imgpipe command as a user runs it: process, serve, history, render, and the AWS CLI
pointed at the local endpoint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.cli import main
from imgpipe.client import Client
from imgpipe.paths import checkout_root
from tests.serve_support import IMGPIPE, serving

ROOT = checkout_root()
SAMPLE = ROOT / "samples" / "ladybird.jpg"


def test_process_leaves_three_watermarked_renditions_and_prints_the_history(tmp_path: Path):
    result = subprocess.run(
        [*IMGPIPE, "process", str(SAMPLE), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for state in ("ClaimImage", "Resize", "Watermark", "Metadata"):
        assert re.search(rf"^\s+{state}\s+Task\s+\d+ ms", result.stdout, re.M), result.stdout
    files = sorted((tmp_path / "ladybird").iterdir())
    assert [f.name for f in files] == ["large.jpg", "medium.jpg", "small.jpg"]
    assert Image.open(files[0]).size == (1600, 1000)


def test_process_exits_non_zero_for_a_file_that_is_not_an_image(tmp_path: Path):
    bogus = tmp_path / "bogus.png"
    bogus.write_text("<html><body>not a png</body></html>")
    result = subprocess.run(
        [*IMGPIPE, "process", str(bogus), "--out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "FAILED: NOT_AN_IMAGE" in result.stdout


def test_serve_prints_its_endpoints_serves_the_api_and_stops_cleanly_on_ctrl_c():
    with serving("--log-level", "WARNING") as server:
        assert re.search(r"AWS endpoint\s+http://127\.0\.0\.1:\d+", server.output())
        upload = Client(server.api_url).request_upload("a.jpg", "image/jpeg", 100)
        assert upload["uploadUrl"].startswith("http://127.0.0.1:")
        assert server.stop() == 0
        assert server.wait_for(r"^stopped\.$")


def test_history_command_shows_each_state_of_an_image(stack, client: Client, photo: bytes, capsys):
    image_id = client.upload("history.jpg", photo, "image/jpeg")
    client.wait(image_id)
    assert main(["history", image_id, "--aws-port", str(stack.aws_port)]) == 0
    out = capsys.readouterr().out
    assert f"image {image_id}" in out
    assert "SUCCEEDED" in out
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "ParseEvent",
        "ClaimImage",
        "Resize",
        "Watermark",
        "Metadata",
        "Done",
    ]


def test_history_command_for_an_unknown_image_says_so(stack, capsys):
    assert main(["history", "f" * 32, "--aws-port", str(stack.aws_port)]) == 1
    assert "no executions" in capsys.readouterr().out


@pytest.mark.skipif(
    shutil.which("aws") is None and not (Path(sys.executable).parent / "aws").exists(), reason="AWS CLI not installed"
)
def test_aws_cli_lists_executions_and_shows_history_against_the_local_endpoint(stack, client: Client, photo: bytes):
    image_id = client.upload("cli.jpg", photo, "image/jpeg")
    name = client.wait(image_id)["executionId"]  # the API shows the execution's name, not its ARN
    aws = shutil.which("aws") or str(Path(sys.executable).parent / "aws")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    base = [aws, "--endpoint-url", stack.aws_endpoint, "stepfunctions"]
    listed = subprocess.run(
        [*base, "list-executions", "--state-machine-arn", stack.names.state_machine_arn],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    (arn,) = [e["executionArn"] for e in json.loads(listed.stdout)["executions"] if e["name"] == name]
    history = subprocess.run(
        [*base, "get-execution-history", "--execution-arn", arn],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)["events"][-1]["type"] == "ExecutionSucceeded"


def test_render_writes_renditions_without_a_stack(tmp_path: Path, capsys):
    assert main(["render", str(SAMPLE), "--out", str(tmp_path), "--watermark-text", "preview"]) == 0
    assert sorted(p.name for p in (tmp_path / "ladybird").iterdir()) == ["large.jpg", "medium.jpg", "small.jpg"]
    assert "JPEG 2560x1600" in capsys.readouterr().out
