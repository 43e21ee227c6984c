"""The command line's first hour, without a stack: `imgpipe render`'s output folders, one-line
errors for bad --settings and unreadable files, and how commands find a running `imgpipe serve`."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imgpipe import cli
from imgpipe.cli import main, target
from imgpipe.cli.inputs import output_folders
from imgpipe.local import running
from imgpipe.paths import checkout_root

SMALL_RENDITION = '{"renditions": [{"name": "small", "long_edge": 64}], "watermark": {"text": ""}}'


def picture(path: Path, fmt: str) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (200, 80, 40)).save(buffer, fmt)
    path.write_bytes(buffer.getvalue())
    return path


# ---- a folder per input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inputs", "folders"),
    [
        (["a.jpg", "b.png"], ["a", "b"]),
        (["a.heif", "a.bmp", "b.jpg"], ["a.heif", "a.bmp", "b"]),
        (["x/a.jpg", "y/a.jpg"], ["a.jpg-1", "a.jpg-2"]),
        (["x/a.jpg", "y/a.jpg", "a.jpg-1.png"], ["a.jpg-2", "a.jpg-3", "a.jpg-1"]),
        (["a", "a.jpg"], ["a", "a.jpg"]),
    ],
)
def test_every_input_gets_its_own_output_folder(inputs: list[str], folders: list[str]):
    assert output_folders([Path(p) for p in inputs]) == folders


def test_render_keeps_both_inputs_that_share_a_stem(tmp_path: Path, capsys):
    png, bmp = picture(tmp_path / "a.png", "PNG"), picture(tmp_path / "a.bmp", "BMP")
    out = tmp_path / "out"

    assert main(["render", str(png), str(bmp), "--out", str(out), "--settings", SMALL_RENDITION]) == 0

    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg")) == ["a.bmp/small.jpg", "a.png/small.jpg"]
    assert "out/a.png/small.jpg" in capsys.readouterr().out


# ---- a missing file is reported, the others are done ----------------------------------------------------
def test_render_reports_a_missing_file_does_the_rest_and_fails_at_the_end(tmp_path: Path, capsys):
    first, last = picture(tmp_path / "first.png", "PNG"), picture(tmp_path / "last.png", "PNG")
    missing = tmp_path / "missing.jpg"
    out = tmp_path / "out"

    status = main(["render", str(first), str(missing), str(last), "--out", str(out), "--settings", SMALL_RENDITION])

    assert status == 1
    assert (out / "first" / "small.jpg").is_file() and (out / "last" / "small.jpg").is_file()
    err = capsys.readouterr().err
    assert f"{missing}: cannot read it (no such file or directory)" in err
    assert "1 of 3 files failed" in err
    assert "Traceback" not in err


# ---- --settings mistakes: one line naming the field and the rule ------------------------------------------
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"limits": {"max_bytes": "x"}}', '--settings: limits.max_bytes must be a whole number, not "x"'),
        ('{"watermark": {"text": 5}}', "--settings: watermark.text must be a string, not 5"),
        ("[]", "--settings must be a JSON object, not a list"),
        ("", "--settings is empty: give a JSON object, or a file holding one"),
        ("   ", "--settings is empty: give a JSON object, or a file holding one"),
        ('{"colour": "red"}', "--settings: unknown settings: ['colour'] (known: "),
        ('{"watermark": {"opacity": 2}}', "--settings: watermark.opacity must be in (0, 1]"),
        ("{not json", "--settings are not valid JSON: "),
        ("no-such-file.json", "--settings 'no-such-file.json': no such file, and not a JSON object either"),
        ("5", "--settings must be a JSON object, not 5"),
    ],
)
def test_an_invalid_settings_value_is_one_line_naming_the_field_and_the_rule(
    value: str, message: str, tmp_path: Path, capsys
):
    image = picture(tmp_path / "a.png", "PNG")

    assert main(["render", str(image), "--out", str(tmp_path / "out"), "--settings", value]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"imgpipe render: {message}"), err
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"limits": {"max_frames": [1]}}', "limits.max_frames must be a whole number, not a list"),
        ("", "is empty: it must hold a JSON object"),
    ],
)
def test_a_settings_file_is_checked_the_same_way_and_named(content: str, message: str, tmp_path: Path, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text(content)

    assert main(["render", str(picture(tmp_path / "a.png", "PNG")), "--settings", str(settings)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--settings file {settings}" in err and message in err, err


def test_a_too_long_watermark_text_names_the_option(tmp_path: Path, capsys):
    assert main(["render", str(picture(tmp_path / "a.png", "PNG")), "--watermark-text", "x" * 201]) == 2
    assert capsys.readouterr().err == (
        "imgpipe render: --watermark-text: watermark.text must be at most 200 characters\n"
    )


def test_a_settings_mistake_leaks_no_python_internals_from_the_installed_command(tmp_path: Path):
    image = picture(tmp_path / "a.png", "PNG")
    for value in ('{"limits": {"max_bytes": "x"}}', '{"watermark": {"text": 5}}', "[]"):
        result = subprocess.run(
            [sys.executable, "-m", "imgpipe.cli", "render", str(image), "--settings", value],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        for leak in ("Traceback", "not supported between", "has no len()", "FileNotFoundError"):
            assert leak not in result.stderr


# ---- finding the running `imgpipe serve` -------------------------------------------------------------------
@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path / "run" / "imgpipe"


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_registered_stack_is_found_until_it_unregisters(state_dir: Path):
    record = running.register("http://127.0.0.1:4000", "http://127.0.0.1:4001")

    assert running.running() == [running.RunningStack(os.getpid(), "http://127.0.0.1:4000", "http://127.0.0.1:4001")]
    running.unregister(record)
    assert running.running() == []


def test_the_record_of_a_stack_that_died_is_ignored_and_removed(state_dir: Path):
    state_dir.mkdir(parents=True)
    stale = state_dir / "serve-1.json"
    stale.write_text(json.dumps({"pid": dead_pid(), "api_url": "http://x:1", "aws_endpoint": "http://x:2"}))

    assert running.running() == []
    assert not stale.exists()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_history_without_a_running_stack_says_how_to_point_at_one(state_dir: Path, monkeypatch, capsys):
    monkeypatch.setattr(target, "DEFAULT_AWS_PORT", closed_port())

    assert main(["history"]) == 2

    err = capsys.readouterr().err
    assert "No running `imgpipe serve` was found" in err and "--aws-port" in err


def test_history_with_several_running_stacks_asks_which(state_dir: Path, capsys):
    state_dir.mkdir(parents=True)
    for n, port in enumerate((4001, 5001)):
        record = {"pid": os.getpid(), "api_url": "http://127.0.0.1:1", "aws_endpoint": f"http://127.0.0.1:{port}"}
        (state_dir / f"serve-{n}.json").write_text(json.dumps(record))

    assert main(["history"]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "http://127.0.0.1:4001" in err and "http://127.0.0.1:5001" in err
    assert "choose one with --aws-port" in err


# ---- the README's command table lists every command and option ----------------------------------------------
README = checkout_root() / "README.md"


def help_of(*command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([*command, "--help"])
    return capsys.readouterr().out


def test_the_readme_command_table_lists_every_command_and_option(capsys):
    rows = {match[1]: match[0] for match in re.finditer(r"^\| `imgpipe (\w+)[^\n]*$", README.read_text(), re.M)}
    commands = re.search(r"\{([\w,]+)\}", help_of(capsys=capsys))[1].split(",")
    assert sorted(rows) == sorted(commands)
    for command in commands:
        options = set(re.findall(r"--[a-z][a-z-]+", help_of(command, capsys=capsys))) - {"--help"}
        missing = sorted(option for option in options if f"{option}" not in rows[command])
        assert not missing, f"README's row for `imgpipe {command}` lacks {missing}"
