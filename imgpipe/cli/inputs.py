"""What the command line is given, checked before any work starts: ``--settings`` and the options
that override it, the input files and the output folder each input gets.  Every mistake is a
UsageError: one line for the user."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from imgpipe.config import PipelineSettings, SettingsError


class UsageError(Exception):
    """A mistake on the command line: reported as one line, exit status 2."""


def load_settings(args: argparse.Namespace) -> PipelineSettings:
    """The settings a command runs with: ``--settings``, then ``--watermark-text``, ``--auth`` and
    ``--delivery`` over the same keys in it (each where the command has the option)."""
    settings = PipelineSettings()
    if getattr(args, "settings", None) is not None:
        settings = read_settings(args.settings)
    if getattr(args, "watermark_text", None) is not None:
        try:
            settings = replace(settings, watermark=replace(settings.watermark, text=args.watermark_text))
        except SettingsError as exc:
            raise UsageError(f"--watermark-text: {exc}") from None
    modes = {name: getattr(args, name) for name in ("auth", "delivery") if getattr(args, name, None)}
    if modes:
        settings = replace(settings, **modes)
    return settings


def read_settings(value: str) -> PipelineSettings:
    """``--settings``: a JSON document, or the name of a file holding one."""
    if not value.strip():
        raise UsageError("--settings is empty: give a JSON object, or a file holding one")
    source = "--settings"
    text = value
    if not value.lstrip().startswith(("{", "[")):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
            source = f"--settings file {path}"
        except FileNotFoundError:
            if not _is_json(value):  # `5`, `null`, `"x"`: JSON, but not a settings object (said below)
                raise UsageError(f"--settings {value!r}: no such file, and not a JSON object either") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--settings file {path}: cannot read it ({_reason(exc)})") from None
        if not text.strip():
            raise UsageError(f"{source} is empty: it must hold a JSON object")
    try:
        return PipelineSettings.from_json(text)
    except SettingsError as exc:
        detail = str(exc)
        if detail.startswith("settings "):  # "--settings must be a JSON object", not "--settings: settings must…"
            raise UsageError(f"{source} {detail.removeprefix('settings ')}") from None
        raise UsageError(f"{source}: {detail}") from None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return str(exc)


def read_input(path: Path) -> bytes:
    """An input file's bytes; a missing or unreadable one is one line, not a traceback."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({_reason(exc)})") from None


def output_folders(paths: list[Path]) -> list[str]:
    """The folder under ``--out`` for each input, distinct within one command.

    ``photo.jpg`` → ``photo``; when two inputs share a stem (``a.heif`` and ``a.bmp``) both keep
    their extension (``a.heif``, ``a.bmp``); when even the names clash (``x/a.jpg``, ``y/a.jpg``),
    they are numbered in the order given (``a.jpg-1``, ``a.jpg-2``).  Deterministic: the same
    command line always writes to the same folders.
    """
    stems = Counter(path.stem for path in paths)
    names = [path.stem if stems[path.stem] == 1 else path.name for path in paths]
    counts = Counter(names)
    taken = {name for name, count in counts.items() if count == 1}
    numbered: Counter[str] = Counter()
    folders = []
    for name in names:
        folder = name
        while counts[name] > 1 and (folder == name or folder in taken):
            # a.jpg given twice: a.jpg-1, a.jpg-2 (skipping a name another input already has)
            numbered[name] += 1
            folder = f"{name}-{numbered[name]}"
        taken.add(folder)
        folders.append(folder)
    return folders
