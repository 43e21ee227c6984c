"""``python -m bench``: the benchmark suite.  See docs/performance.md."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import e2e, inputs, sections
from bench.harness import REPO, jsonable, table
from bench.sections import RESULTS_DIR, Context

SECTIONS = {
    "speed": (sections.speed, ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12")),
    "quality": (sections.quality, ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12", "zoneplate")),
    "routes": (sections.routes, ("jpeg12", "zoneplate")),
    "memory": (sections.memory, ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12", "png50", "png50a")),
    "handoff": (sections.handoff, ("jpeg1", "jpeg12", "jpeg24")),
    "coldstart": (sections.coldstart, ()),
    "codecs": (sections.codecs, ("jpeg12",)),
    "e2e": (e2e.run, ("jpeg1", "jpeg12")),
}
TITLES = {
    "speed": "CPU time per input x engine (median, single-threaded, warm workers, interleaved)",
    "quality": "Quality: luma PSNR per rendition vs full-decode LANCZOS reference (watermark off, JPEG q85)",
    "routes": (
        "Stock-Pillow routes to the large rendition: CPU against quality (why the CPU targets stand where they do)"
    ),
    "memory": "Peak RSS of a fresh process (VmHWM of the child)",
    "handoff": "Resize -> watermark hand-off: generational loss, intermediate cost, step split and cost",
    "coldstart": "Cold start: import handler + create clients vs import boto3 + s3 client (fresh process each)",
    "codecs": "Encoder settings: WebP method and AVIF speed sweep",
    "e2e": "Local end to end (imgpipe.local)",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and inputs: a smoke run (~1 min)")
    p.add_argument("--only", action="append", default=[], metavar="SECTION",
                   help=f"run only these sections (repeat or comma-separate): {', '.join(SECTIONS)}")  # fmt: skip
    p.add_argument("--reps", type=int, help="rounds per engine in the speed section (default 5, --quick 2)")
    p.add_argument("--compare", metavar="FILE", help="compare the headline numbers with an earlier results JSON")
    p.add_argument("--no-pin", action="store_true", help="do not pin the measured processes to one CPU")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if any target FAILs (default: only harness errors fail)"
    )
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    only = [s.strip() for item in args.only for s in item.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    args.sections = only or list(SECTIONS)
    return args


def _git(*cmd: str) -> str:
    try:
        done = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        env["cpu_model"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        env["cpu_model"] = platform.processor()
    from PIL import __version__ as pillow
    from PIL import features

    env["pillow"] = pillow
    env["libjpeg"] = features.version("jpg")
    env["libjpeg_turbo"] = features.check("libjpeg_turbo")
    probe = "import pyvips;print(pyvips.__version__, '%d.%d.%d' % tuple(pyvips.version(i) for i in range(3)))"
    try:  # version only; the workers import pyvips themselves with VIPS_CONCURRENCY=1
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "VIPS_CONCURRENCY": "1"},
            check=False,
        )
        out = done.stdout.split()
        env["pyvips"], env["libvips"] = out[0], out[1]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        env["pyvips"] = env["libvips"] = "unavailable"
    env["git_commit"] = _git("rev-parse", "--short", "HEAD")
    env["git_dirty_imgpipe"] = bool(_git("status", "--porcelain", "--", "imgpipe", "functions"))
    return env


def compare(old_path: str, new: dict[str, Any]) -> None:
    old = json.loads(Path(old_path).read_text())
    a, b = old.get("headline", {}), new.get("headline", {})
    keys = [k for k in b if k in a and isinstance(a[k], (int, float)) and isinstance(b[k], (int, float))]
    meta = old.get("meta", {})
    commit = meta.get("environment", {}).get("git_commit", "?")
    print(f"\n== Compare with {old_path} ({meta.get('timestamp', '?')}, commit {commit})")
    rows = []
    for k in keys:
        ratio = b[k] / a[k] if a[k] not in (0, None) else math.nan
        rows.append([k, f"{a[k]:.2f}", f"{b[k]:.2f}", f"{ratio:.2f}"])
    print(table(["metric", "before", "now", "now/before"], rows))
    old_t = {t["key"]: t for t in old.get("targets", [])}
    changed = [
        (t["key"], old_t[t["key"]]["status"], t["status"])
        for t in new.get("targets", [])
        if t["key"] in old_t and old_t[t["key"]]["status"] != t["status"]
    ]
    for key, before, now in changed:
        print(f"  target {key}: {before} -> {now}")
    if not changed:
        print("  no target changed status")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    reps = args.reps or (2 if args.quick else 5)
    cpus = os.cpu_count() or 1
    pin = None if args.no_pin or cpus < 2 or not hasattr(os, "sched_setaffinity") else cpus - 1
    print(f"imgpipe bench: sections {', '.join(args.sections)}; {'quick, ' if args.quick else ''}{reps} rounds; "
          f"measured processes {'pinned to CPU ' + str(pin) if pin is not None else 'not pinned'}")  # fmt: skip
    env = environment()
    env["loadavg_start"] = os.getloadavg()[0]
    dirty = " + uncommitted imgpipe/ or functions/ changes" if env["git_dirty_imgpipe"] else ""
    print(f"  {env['cpu_model']} x{env['cpus']}, Python {env['python']}, "
          f"Pillow {env['pillow']} (libjpeg-turbo {env['libjpeg']}), "
          f"pyvips {env['pyvips']} / libvips {env['libvips']}, commit {env['git_commit']}{dirty}")  # fmt: skip
    needed = sorted({n for s in args.sections for n in SECTIONS[s][1]})
    print("\n== Inputs (bench/.inputs, generated once, deterministic)")
    manifest = inputs.ensure(needed, log=print)
    for name in needed:
        spec = inputs.INPUTS[name]
        print(f"  {name:11} {spec.label}: {manifest[name]['bytes'] / 1e6:.1f} MB")
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-") as tmp:
        ctx = Context(quick=args.quick, reps=reps, pin=pin, inputs=manifest, workdir=Path(tmp))
        durations = {}
        for name in args.sections:
            fn = SECTIONS[name][0]
            print(f"\n== {name}: {TITLES[name]}")
            t0 = time.perf_counter()
            try:
                fn(ctx)
            except Exception as exc:  # a broken section must not hide the others
                errors[name] = f"{type(exc).__name__}: {exc}"
                print(f"  ERROR in section {name}: {errors[name]}")
                traceback.print_exc()
            durations[name] = time.perf_counter() - t0
            print(f"  ({durations[name]:.0f} s)")
    total = time.perf_counter() - t_start
    env["loadavg_end"] = os.getloadavg()[0]
    if max(env["loadavg_start"], env["loadavg_end"]) > 0.75 * cpus:
        print(f"\n  NOTE: load average {env['loadavg_start']:.1f} at start, {env['loadavg_end']:.1f} at the end "
              f"on {cpus} CPUs: other work shared the machine; "
              "CPU ratios and cold starts are noisier than usual")  # fmt: skip
    overview = sections.summary(ctx)
    if overview:
        print(
            "\n== Summary: input x engine "
            "(CPU median ms; PSNR vs full-decode LANCZOS reference; peak RSS of a fresh process)"
        )
        print(overview)
    print("\n== Targets")
    for t in ctx.targets:
        print(t.line())
    for name, err in errors.items():
        print(f"  [ERR ] section {name}: {err.splitlines()[0]}")
    passed = sum(t.status == "PASS" for t in ctx.targets)
    failed = sum(t.status == "FAIL" for t in ctx.targets)
    print(f"  {passed} PASS, {failed} FAIL, {len(errors)} section error(s); total {total:.0f} s")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    meta = {
        "timestamp": stamp,
        "environment": env,
        "args": dict(vars(args)),
        "reps": reps,
        "pinned_cpu": pin,
        "duration_s": total,
        "section_durations_s": durations,
        "inputs": {n: {k: v for k, v in m.items() if k != "path"} for n, m in manifest.items()},
    }
    doc = jsonable({
        "meta": meta,
        "sections": ctx.out,
        "targets": [t.to_dict() for t in ctx.targets],
        "errors": errors,
        "headline": ctx.headline,
    })  # fmt: skip
    if not args.no_save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{stamp}.json"
        path.write_text(json.dumps(doc, indent=1, sort_keys=True))
        (RESULTS_DIR / "latest.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
        print(f"  results: {path.relative_to(REPO)} (and bench/results/latest.json)")
    if args.compare:
        compare(args.compare, doc)
    if errors:
        return 2
    return 1 if args.strict and failed else 0
