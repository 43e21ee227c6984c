"""The imgpipe command as a user runs it: process, serve, history, render, and the AWS CLI
pointed at the local endpoint."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.cli import main
from imgpipe.client import Client
from imgpipe.paths import checkout_root

ROOT = checkout_root()
SAMPLE = ROOT / "samples" / "ladybird.jpg"
IMGPIPE = [sys.executable, "-m", "imgpipe.cli"]


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
    server = subprocess.Popen(
        [*IMGPIPE, "serve", "--port", "0", "--aws-port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # A reader thread, so waiting for output never blocks past the deadline.
        received: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [received.put(line) for line in server.stdout], daemon=True).start()
        lines = []
        deadline = time.monotonic() + 60
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline and server.poll() is None, "".join(lines)
            with contextlib.suppress(queue.Empty):
                lines.append(received.get(timeout=0.5))
        output = "".join(lines)
        api_url = re.search(r"API\s+(http://\S+)", output)[1]
        assert re.search(r"AWS endpoint\s+http://127\.0\.0\.1:\d+", output)
        upload = Client(api_url).request_upload("a.jpg", "image/jpeg", 100)
        assert upload["uploadUrl"].startswith("http://127.0.0.1:")
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        tail = ""
        while "stopped." not in tail:
            tail += received.get(timeout=5)  # queue.Empty fails the test if it never says so
    finally:
        if server.poll() is None:
            server.kill()


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
    execution_id = client.wait(image_id)["executionId"]
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
    assert execution_id in [e["executionArn"] for e in json.loads(listed.stdout)["executions"]]
    history = subprocess.run(
        [*base, "get-execution-history", "--execution-arn", execution_id],
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
