"""The benchmark sections.  Each takes the run Context, prints its tables, fills ``ctx.out[name]``
and appends its Targets.  Sections are independent; ``--only`` picks some."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import engines as eng
from bench import metrics
from bench.harness import PYTHON, REPO, Target, Worker, fmt_num, median, run_once, table
from bench.inputs import INPUTS, zoneplate_k

ENGINES = ("naive", "core", "pyvips")
SPEED_INPUTS = ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12")
QUALITY_INPUTS = ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12", "zoneplate")
PHOTO_INPUTS = ("jpeg1", "jpeg12", "jpeg24", "png12", "portrait12")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ARTIFACTS_DIR = RESULTS_DIR / "artifacts"


@dataclass
class Context:
    quick: bool
    reps: int
    pin: int | None
    inputs: dict[str, dict[str, Any]]
    workdir: Path
    log: Callable[[str], None] = print
    out: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    headline: dict[str, float] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return self.inputs[name]["path"]

    def target(self, *args: Any, **kwargs: Any) -> Target:
        t = Target(*args, **kwargs)
        self.targets.append(t)
        self.log(t.line())
        return t


def _rotate(seq: tuple[str, ...], k: int) -> list[str]:
    k %= len(seq)
    return list(seq[k:] + seq[:k])


# ==== speed: CPU time per input x engine, interleaved ============================================
def speed(ctx: Context) -> None:
    """Persistent worker per engine (warm, like a warm Lambda), one job in flight at a time,
    engines interleaved and their order rotated every round so drift and thermal effects hit
    all engines alike.  CPU = process CPU time of the worker (all its threads) for the whole job:
    bytes in memory -> encoded renditions."""
    reps = ctx.reps
    workers = {e: Worker(e, ctx.pin) for e in ENGINES}
    samples: dict[str, dict[str, dict[str, list]]] = {
        i: {e: {"cpu": [], "wall": [], "bytes": []} for e in ENGINES} for i in SPEED_INPUTS
    }
    try:
        for w in workers.values():  # warm-up: lazy imports, font cache, allocator
            w.job(op="render", input=ctx.path("jpeg1"))
            w.job(op="render", input=ctx.path("jpeg12"))
        t0 = time.perf_counter()
        for rep in range(reps):
            for n, name in enumerate(SPEED_INPUTS):
                for e in _rotate(ENGINES, rep + n):
                    r = workers[e].job(op="render", input=ctx.path(name))
                    s = samples[name][e]
                    s["cpu"].append(r["cpu_ms"])
                    s["wall"].append(r["wall_ms"])
                    s["bytes"].append(sum(o["bytes"] for o in r["outputs"]))
            ctx.log(f"  round {rep + 1}/{reps} done ({time.perf_counter() - t0:.0f} s)")
    finally:
        for w in workers.values():
            w.close()
    result: dict[str, Any] = {"reps": reps, "inputs": {}}
    for name in SPEED_INPUTS:
        row = {}
        for e in ENGINES:
            s = samples[name][e]
            cpu = s["cpu"]
            row[e] = {
                "cpu_ms": median(cpu),
                "cpu_ms_min": min(cpu),
                "cpu_ms_max": max(cpu),
                "cpu_ms_stdev": statistics.stdev(cpu) if len(cpu) > 1 else 0.0,
                "wall_ms": median(s["wall"]),
                "out_bytes": median(s["bytes"]),
                "samples_cpu_ms": cpu,
            }
        for e in ENGINES:
            row[e]["x_naive"] = row[e]["cpu_ms"] / row["naive"]["cpu_ms"]
            row[e]["x_pyvips"] = row[e]["cpu_ms"] / row["pyvips"]["cpu_ms"]
            ctx.headline[f"speed.{name}.{e}.cpu_ms"] = row[e]["cpu_ms"]
        result["inputs"][name] = row
    ctx.out["speed"] = result
    rows = []
    for name in SPEED_INPUTS:
        for e in ENGINES:
            r = result["inputs"][name][e]
            rows.append(
                [
                    name,
                    e,
                    f"{r['cpu_ms']:.0f}",
                    f"{r['cpu_ms_min']:.0f}-{r['cpu_ms_max']:.0f}",
                    f"{r['wall_ms']:.0f}",
                    f"{r['x_naive']:.2f}",
                    f"{r['x_pyvips']:.2f}",
                    f"{r['out_bytes'] / 1024:.0f}",
                ]
            )
    ctx.log(
        table(
            ["input", "engine", "CPU ms (median)", "min-max", "wall ms", "x naive", "x pyvips", "out KiB"],
            rows,
            "llrrrrrr",
        )
    )
    noisy = [f"{n}/{e} {(r['cpu_ms_max'] - r['cpu_ms_min']) / r['cpu_ms']:.0%}"
             for n, row in result["inputs"].items() for e, r in row.items()
             if (r["cpu_ms_max"] - r["cpu_ms_min"]) / r["cpu_ms"] > 0.10]  # fmt: skip
    result["noisy"] = noisy
    if noisy:
        ctx.log(f"  WARNING: spread (max-min)/median over 10% for {', '.join(noisy)}: the machine was busy "
                f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); "
                "rerun when idle or with more --reps")  # fmt: skip
    for name, label in (("jpeg12", "12 MP"), ("jpeg24", "24 MP")):
        r = result["inputs"][name]["core"]
        ctx.target(f"cpu_vs_naive_{name}", f"{label} JPEG CPU, core / naive Pillow", r["x_naive"], 0.30,
                   detail=f"{r['cpu_ms']:.0f} ms vs {result['inputs'][name]['naive']['cpu_ms']:.0f} ms")  # fmt: skip
        ctx.target(f"cpu_vs_pyvips_{name}", f"{label} JPEG CPU, core / pyvips best form", r["x_pyvips"], 1.0,
                   detail=f"{r['cpu_ms']:.0f} ms vs {result['inputs'][name]['pyvips']['cpu_ms']:.0f} ms")  # fmt: skip


# ==== quality: PSNR per rendition vs a full-decode LANCZOS reference ==============================
def reference(path: str) -> list[tuple[str, Any]]:
    data = Path(path).read_bytes()
    full = eng.naive_decode(data)
    return eng.naive_resize(full, {**eng.DEFAULT_SPEC})


def _jpeg_options(data: bytes) -> dict[str, Any] | None:
    """Progressive or baseline, and chroma subsampling, read back from an encoded JPEG."""
    import io

    from PIL import Image, JpegImagePlugin

    im = Image.open(io.BytesIO(data))
    if im.format != "JPEG":
        return None
    return {
        "progressive": bool(im.info.get("progressive") or im.info.get("progression")),
        "subsampling": JpegImagePlugin.get_sampling(im),
    }


def quality(ctx: Context) -> None:
    """Each engine renders with the watermark OFF (it would dominate the error and the engines'
    fonts differ) and the real JPEG q85 output; each rendition's luma PSNR is taken against the
    reference (full decode, LANCZOS from full size, not encoded).  The naive engine's PSNR is thus
    pure JPEG loss, and "core within 0.5 dB" means PSNR(naive) - PSNR(core) <= 0.5 dB."""
    qdir = ctx.workdir / "quality"
    qdir.mkdir(parents=True, exist_ok=True)
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    workers = {e: Worker(e, ctx.pin) for e in ENGINES}
    result: dict[str, Any] = {}
    k = zoneplate_k(INPUTS["zoneplate"].width, INPUTS["zoneplate"].height)
    try:
        for name in QUALITY_INPUTS:
            refs = reference(ctx.path(name))
            src_size = INPUTS[name].width, INPUTS[name].height
            per_engine: dict[str, Any] = {}
            for e in ENGINES:
                r = workers[e].job(
                    op="render", input=ctx.path(name), spec={"watermark": False}, save_dir=str(qdir), tag=f"{name}-{e}"
                )
                rend = {}
                for (rname, ref), out in zip(refs, r["outputs"], strict=True):
                    raw = Path(out["path"]).read_bytes()
                    im = metrics.open_rgb(raw)
                    entry: dict[str, Any] = {
                        "size": list(im.size),
                        "ref_size": list(ref.size),
                        "bytes": out["bytes"],
                        "jpeg": _jpeg_options(raw),
                    }
                    if im.size != ref.size:
                        entry["psnr"] = -math.inf
                        entry["error"] = f"size {im.size} != reference {ref.size}"
                    else:
                        entry["psnr"] = metrics.psnr_luma(im, ref)
                        if name == "zoneplate":
                            entry["alias_rms"] = metrics.alias_rms(im, src_size, k)
                            entry["ref_alias_rms"] = metrics.alias_rms(ref, src_size, k)
                            shutil.copy(out["path"], ARTIFACTS_DIR / f"zoneplate-{e}-{rname}.jpg")
                    rend[rname] = entry
                per_engine[e] = rend
                for out in r["outputs"]:
                    Path(out["path"]).unlink(missing_ok=True)
            if name == "zoneplate":
                for rname, ref in refs:
                    ref.save(ARTIFACTS_DIR / f"zoneplate-reference-{rname}.png")
            for e in ENGINES:
                for rname in per_engine[e]:
                    per_engine[e][rname]["delta_vs_naive_db"] = (
                        per_engine["naive"][rname]["psnr"] - per_engine[e][rname]["psnr"]
                    )
            result[name] = per_engine
            del refs
    finally:
        for w in workers.values():
            w.close()
    ctx.out["quality"] = result
    names = [r for r, _ in eng.RENDITIONS]
    # The engines must do the same encoding work: same JPEG mode and chroma subsampling as core.
    for name in QUALITY_INPUTS:
        for r in names:
            core_opts = result[name]["core"][r]["jpeg"]
            for e in ("naive", "pyvips"):
                if result[name][e][r]["jpeg"] != core_opts:
                    ctx.log(f"  WARNING: {name}/{r}: {e} encodes {result[name][e][r]['jpeg']} "
                            f"but core encodes {core_opts}; align the encoder options in bench/engines.py "
                            "or the CPU ratios compare different jobs")  # fmt: skip
    rows = []
    for name in QUALITY_INPUTS:
        for e in ENGINES:
            q = result[name][e]
            cells = [fmt_num(q[r]["psnr"]) for r in names]
            worst = max(q[r]["delta_vs_naive_db"] for r in names)
            alias = " / ".join(fmt_num(q[r].get("alias_rms")) for r in names) if name == "zoneplate" else ""
            rows.append([name, e, *cells, f"{worst:+.2f}", alias])
            ctx.headline[f"quality.{name}.{e}.worst_delta_db"] = worst
    ctx.log(
        table(
            ["input", "engine", *(f"PSNR {r} dB" for r in names), "worst dB below naive", "alias RMS L/M/S"],
            rows,
            "llrrrrr",
        )
    )
    ref_alias = " / ".join(fmt_num(result["zoneplate"]["naive"][r]["ref_alias_rms"]) for r in names)
    ctx.log(
        f"  zone plate alias RMS of the unencoded LANCZOS reference (L/M/S): {ref_alias}  "
        "(grey levels; 0 = perfectly flat stop band)"
    )
    ctx.log(f"  zone plate renditions of every engine saved in {ARTIFACTS_DIR.relative_to(REPO)}/ for a visual check")
    worst_photo = max((result[n]["core"][r]["delta_vs_naive_db"], n, r) for n in PHOTO_INPUTS for r in names)
    ctx.target("quality_photo", "Photo renditions, core PSNR below naive (worst of 5 inputs x 3 renditions)",
               worst_photo[0], 0.5, unit=" dB", detail=f"worst: {worst_photo[1]}/{worst_photo[2]}")  # fmt: skip
    zp = result["zoneplate"]["core"]
    worst_zp = max((zp[r]["delta_vs_naive_db"], r) for r in names)
    ctx.target(
        "quality_zoneplate",
        "Zone plate renditions, core PSNR below naive (worst)",
        worst_zp[0],
        0.5,
        unit=" dB",
        detail=f"worst: {worst_zp[1]}",
    )
    # Aliasing: the stop band must stay as flat as the naive (LANCZOS from full size) output's.
    excess = max((zp[r]["alias_rms"] - result["zoneplate"]["naive"][r]["alias_rms"], r) for r in names)
    core_alias = "/".join(fmt_num(zp[r]["alias_rms"]) for r in names)
    naive_alias = "/".join(fmt_num(result["zoneplate"]["naive"][r]["alias_rms"]) for r in names)
    ctx.target("aliasing_zoneplate", "Zone plate stop-band alias RMS, core minus naive (worst)",
               excess[0], 1.0, unit=" grey levels",
               detail=f"worst: {excess[1]}; core {core_alias}, naive {naive_alias}")  # fmt: skip


# ==== routes: why the CPU targets stand where they do ===========================================
def routes(ctx: Context) -> None:
    """Every stock-Pillow route to the large (1600 px) rendition of the 12 MP photo and of the zone
    plate: decode + resample CPU (median, pinned warm worker) and the luma PSNR lost after JPEG q85
    against full decode + LANCZOS (the quality section's rule, 0.5 dB).  The large rendition is
    where the time goes: the smaller ones cascade from it.  Set against pyvips' whole job."""
    reps = 1 if ctx.quick else 3
    worker = Worker("core", ctx.pin)
    try:
        worker.job(op="render", input=ctx.path("jpeg12"))  # warm: imports, allocator
        found = {name: worker.job(op="routes", input=ctx.path(name), reps=reps) for name in ("jpeg12", "zoneplate")}
    finally:
        worker.close()
    photo = {r["route"]: r for r in found["jpeg12"]["rows"]}
    plate = {r["route"]: r["loss_db"] for r in found["zoneplate"]["rows"]}
    rows, result = [], []
    for route, r in photo.items():
        total = r["decode_ms"] + r["resample_ms"]
        ok = max(r["loss_db"], plate[route]) <= 0.5
        result.append({**r, "total_ms": total, "zoneplate_loss_db": plate[route], "keeps_quality": ok})
        rows.append(
            [
                route,
                f"{r['decode_ms']:.0f}",
                f"{r['resample_ms']:.0f}",
                f"{total:.0f}",
                f"{r['loss_db']:+.2f}",
                f"{plate[route]:+.2f}",
                "yes" if ok else "no",
            ]
        )
    ctx.out["routes"] = {"size": found["jpeg12"]["size"], "rows": result}
    ctx.log(
        table(
            [
                "route to the 1600 px rendition (12 MP)",
                "decode ms",
                "resample ms",
                "sum ms",
                "photo dB lost",
                "zone plate dB lost",
                "within 0.5 dB",
            ],
            rows,
            "lrrrrrl",
        )
    )
    keeping = [r for r in result if r["keeps_quality"]]
    if keeping:
        best = min(keeping, key=lambda r: r["total_ms"])
        ctx.headline["routes.cheapest_within_quality_ms"] = best["total_ms"]
        line = (
            f"  cheapest route within 0.5 dB: {best['route']}, "
            f"{best['total_ms']:.0f} ms before the three encodes and the watermark"
        )
        pyvips = ctx.out.get("speed", {}).get("inputs", {}).get("jpeg12", {}).get("pyvips")
        if pyvips:
            line += f"; pyvips does the whole job in {pyvips['cpu_ms']:.0f} ms"
        ctx.log(line)


# ==== memory: peak RSS of fresh processes ========================================================
def memory(ctx: Context) -> None:
    """One fresh process per measurement (a high-water mark never goes down, so a persistent worker
    would report the maximum over all its jobs).  Peak RSS = the child's VmHWM (its ru_maxrss would
    include the harness's own high-water mark, inherited across exec on Linux).  It includes the
    interpreter, the engine's libraries and the input bytes; 'after imports' is the same process
    before it read the input."""
    from imgpipe.topology import RESIZE

    target_reps = 1 if ctx.quick else 3
    jobs: list[tuple[str, str, str, int]] = [("jpeg24", e, "render", target_reps) for e in ENGINES]
    jobs += [
        ("png50", "core", "resize_step", target_reps),
        ("png50", "core", "render", 1),
        ("png50", "naive", "render", 1),
        ("png50", "pyvips", "render", 1),
    ]
    jobs += [("png50a", "core", "resize_step", 1), ("png50a", "core", "render", 1)]
    if not ctx.quick:
        jobs += [(n, e, "render", 1) for n in ("jpeg1", "jpeg12", "png12", "portrait12") for e in ENGINES]
    samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rep in range(max(j[3] for j in jobs)):
        for name, e, op, reps in jobs:
            if rep >= reps:
                continue
            r = run_once(e, {"op": op, "input": ctx.path(name)}, ctx.pin)
            samples.setdefault((name, e, op), []).append(r)
    result: dict[str, Any] = {}
    rows = []
    for (name, e, op), rs in samples.items():
        peak = median([r["peak_rss_kb"] for r in rs]) / 1024
        base = median([r["rss_after_imports_kb"] for r in rs]) / 1024
        result.setdefault(name, {})[f"{e}" if op == "render" else f"{e}:{op}"] = {
            "peak_rss_mb": peak, "rss_after_imports_mb": base, "runs": len(rs),
            "samples_mb": [r["peak_rss_kb"] / 1024 for r in rs],
            "ru_maxrss_mb": median([r["ru_maxrss_kb"] for r in rs]) / 1024,
        }  # fmt: skip
        rows.append(
            [name, e if op == "render" else f"{e} ({op})", f"{peak:.0f}", f"{base:.0f}", f"{peak - base:.0f}", len(rs)]
        )
        ctx.headline[f"memory.{name}.{e}:{op}.peak_mb"] = peak
    ctx.out["memory"] = result
    ctx.log(table(["input", "engine", "peak RSS MB", "after imports MB", "job MB", "runs"], rows, "llrrrr"))
    j24 = result["jpeg24"]
    core24, pyvips24, naive24 = (j24[e]["peak_rss_mb"] for e in ("core", "pyvips", "naive"))
    ctx.target("rss_24mp_vs_pyvips", "24 MP JPEG peak RSS, core / pyvips best form", core24 / pyvips24, 1.0,
               detail=f"{core24:.0f} MB vs {pyvips24:.0f} MB (naive {naive24:.0f} MB)")  # fmt: skip
    step = result["png50"]["core:resize_step"]["peak_rss_mb"]
    step_a = result["png50a"]["core:resize_step"]["peak_rss_mb"]
    render50, render50a = result["png50"]["core"]["peak_rss_mb"], result["png50a"]["core"]["peak_rss_mb"]
    ctx.target("rss_50mp_png",
               f"50 MP PNG resize step peak RSS / resize Lambda memory ({RESIZE.memory_mb} MB); "
               "'well below' = at most half",
               step / RESIZE.memory_mb, 0.5,
               detail=f"{step:.0f} MB of {RESIZE.memory_mb} MB; render() {render50:.0f} MB")  # fmt: skip
    ctx.target("rss_50mp_png_rgba",
               "50 MP RGBA PNG (sizing worst case) resize step peak RSS / resize Lambda memory",
               step_a / RESIZE.memory_mb, 0.5,
               detail=f"{step_a:.0f} MB of {RESIZE.memory_mb} MB; render() {render50a:.0f} MB")  # fmt: skip


# ==== hand-off: generational loss, intermediate cost, per-step split, cost per 1,000 ==============
LAMBDA_GBS_PRICE = 0.0000133334  # arm64, per GB-second
LAMBDA_REQUEST_PRICE = 0.20 / 1e6
FULL_VCPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB; less memory, proportionally less CPU
METADATA_ASSUMED_MS = 50.0


def _step_cost(cpu_ms: float, memory_mb: int) -> tuple[float, float]:
    """(billed duration ms, GB-seconds) of CPU-bound single-threaded work on a Lambda of memory_mb."""
    duration = cpu_ms * max(1.0, FULL_VCPU_MB / memory_mb)
    return duration, duration / 1000 * memory_mb / 1024


def handoff(ctx: Context) -> None:
    """(1) The staged pipeline (resize -> encode_intermediate -> decode_intermediate -> watermark
    -> encode) against render() in one process: PSNR of both vs the LANCZOS reference (watermark
    off) must agree within 0.1 dB, and the direct PSNR / byte identity of the two outputs is shown.
    (2) The hand-off's cost: intermediate encode + decode ms and bytes per rendition.
    (3) The per-step CPU split, for the cost per 1,000 images."""
    from imgpipe.topology import METADATA, RESIZE, WATERMARK

    hdir = ctx.workdir / "handoff"
    hdir.mkdir(parents=True, exist_ok=True)
    reps = max(2, ctx.reps)
    names = [r for r, _ in eng.RENDITIONS]
    result: dict[str, Any] = {}
    with Worker("core", ctx.pin) as core, Worker("naive", ctx.pin) as naive:
        core.job(op="render", input=ctx.path("jpeg1"))
        naive.job(op="render", input=ctx.path("jpeg1"))
        # (1) equality check on the 12 MP photo, watermark off and on.
        refs = dict(reference(ctx.path("jpeg12")))
        check: dict[str, Any] = {}
        for wm in (False, True):
            spec = {"watermark": wm}
            piped = core.job(op="steps", input=ctx.path("jpeg12"), spec=spec, save_dir=str(hdir), tag=f"steps-{wm}")
            single = core.job(op="render", input=ctx.path("jpeg12"), spec=spec, save_dir=str(hdir), tag=f"render-{wm}")
            for a, b in zip(piped["outputs"], single["outputs"], strict=True):
                da, db = Path(a["path"]).read_bytes(), Path(b["path"]).read_bytes()
                ia, ib = metrics.open_rgb(da), metrics.open_rgb(db)
                entry = check.setdefault(a["name"], {})
                entry[f"identical_bytes_wm_{'on' if wm else 'off'}"] = da == db
                entry[f"direct_psnr_wm_{'on' if wm else 'off'}"] = (
                    metrics.psnr_luma(ia, ib) if ia.size == ib.size else -math.inf
                )
                if not wm:
                    ref = refs[a["name"]]
                    entry["pipeline_psnr_vs_ref"] = metrics.psnr_luma(ia, ref)
                    entry["render_psnr_vs_ref"] = metrics.psnr_luma(ib, ref)
                    entry["delta_db"] = abs(entry["pipeline_psnr_vs_ref"] - entry["render_psnr_vs_ref"])
        for f in hdir.iterdir():
            f.unlink()
        result["check"] = check
        rows = [[n, fmt_num(c["pipeline_psnr_vs_ref"]), fmt_num(c["render_psnr_vs_ref"]), f"{c['delta_db']:.3f}",
                 fmt_num(c["direct_psnr_wm_off"]), fmt_num(c["direct_psnr_wm_on"]),
                 "yes" if c["identical_bytes_wm_on"] and c["identical_bytes_wm_off"] else "no"]
                for n, c in check.items()]  # fmt: skip
        ctx.log(
            "  12 MP photo: staged pipeline vs render(), "
            "luma PSNR (dB) vs the full-decode LANCZOS reference (watermark off):"
        )
        ctx.log(
            table(
                [
                    "rendition",
                    "pipeline",
                    "render()",
                    "|diff|",
                    "pipeline vs render (wm off)",
                    "(wm on)",
                    "byte-identical",
                ],
                rows,
            )
        )
        worst = max(c["delta_db"] for c in check.values())
        ctx.target(
            "handoff_generational_loss",
            "Staged pipeline vs render(): |PSNR difference| vs reference (worst rendition)",
            worst,
            0.1,
            unit=" dB",
        )
        # (2) + (3) timings: interleaved steps and render jobs, core and naive, 12 and 24 MP.
        split: dict[str, dict[str, list]] = {}
        for rep in range(reps):
            for name in ("jpeg12", "jpeg24"):
                for who in _rotate(("core", "naive"), rep):
                    w = core if who == "core" else naive
                    r = w.job(op="steps", input=ctx.path(name))
                    s = split.setdefault(f"{name}.{who}", {})
                    for key in ("resize_cpu_ms", "watermark_encode_cpu_ms", "resize_step_cpu_ms",
                                "watermark_step_cpu_ms", "intermediate_encode_ms", "intermediate_decode_ms",
                                "intermediate_bytes"):  # fmt: skip
                        s.setdefault(key, []).append(r[key])
                    s.setdefault("render_cpu_ms", []).append(w.job(op="render", input=ctx.path(name))["cpu_ms"])
    steps: dict[str, Any] = {}
    for key, s in split.items():
        entry = {k: median(v) for k, v in s.items() if not isinstance(v[0], list)}
        for k in ("intermediate_encode_ms", "intermediate_decode_ms", "intermediate_bytes"):
            entry[k] = [median([run[i] for run in s[k]]) for i in range(len(s[k][0]))]
        steps[key] = entry
    result["steps"] = steps
    rows, notes = [], []
    for name in ("jpeg12", "jpeg24"):
        c = steps[f"{name}.core"]
        for i, n in enumerate(names):
            rows.append(
                [
                    name,
                    n,
                    f"{c['intermediate_encode_ms'][i]:.1f}",
                    f"{c['intermediate_decode_ms'][i]:.1f}",
                    f"{c['intermediate_bytes'][i] / 1024:.0f}",
                ]
            )
        hand = sum(c["intermediate_encode_ms"]) + sum(c["intermediate_decode_ms"])
        rows.append(
            [
                name,
                "total",
                f"{sum(c['intermediate_encode_ms']):.1f}",
                f"{sum(c['intermediate_decode_ms']):.1f}",
                f"{sum(c['intermediate_bytes']) / 1024:.0f}",
            ]
        )
        notes.append(
            f"  {name}: hand-off {hand:.0f} ms CPU = {hand / c['render_cpu_ms']:.2f}x "
            f"the whole render() ({c['render_cpu_ms']:.0f} ms)"
        )
        ctx.headline[f"handoff.{name}.intermediate_ms"] = hand
    ctx.log("  Lossless hand-off (intermediate.encode_intermediate / decode_intermediate), CPU ms and size, median:")
    ctx.log(table(["input", "rendition", "encode ms", "decode ms", "KiB"], rows, "llrrr"))
    for line in notes:
        ctx.log(line)
    # Cost per 1,000 images, two ways: (a) render() CPU split between the two steps in the
    # proportion of their image work (an estimate from one process; no hand-off), and (b) the
    # staged pipeline as the Lambdas run it, hand-off (PNG encode + decode) included.
    cost_rows, costs = [], {}
    for name in ("jpeg12", "jpeg24"):
        for who in ("core", "naive"):
            s = steps[f"{name}.{who}"]
            work = s["resize_cpu_ms"] + s["watermark_encode_cpu_ms"]
            frac = s["resize_cpu_ms"] / work
            variants = {
                "render split": (s["render_cpu_ms"] * frac, s["render_cpu_ms"] * (1 - frac)),
                "staged + hand-off": (s["resize_step_cpu_ms"], s["watermark_step_cpu_ms"]),
            }
            for variant, (resize_ms, mark_ms) in variants.items():
                parts = [(RESIZE, resize_ms), (WATERMARK, mark_ms), (METADATA, METADATA_ASSUMED_MS)]
                gbs, detail = 0.0, []
                for step, cpu in parts:
                    dur, g = _step_cost(cpu, step.memory_mb)
                    gbs += g
                    detail.append(
                        {"step": step.name, "memory_mb": step.memory_mb, "cpu_ms": cpu, "billed_ms": dur, "gb_s": g}
                    )
                compute = gbs * LAMBDA_GBS_PRICE * 1000
                requests = len(parts) * LAMBDA_REQUEST_PRICE * 1000
                costs[f"{name}.{who}.{variant}"] = {"steps": detail, "gb_s_per_image": gbs,
                                                    "compute_usd_per_1000": compute, "requests_usd_per_1000": requests,
                                                    "usd_per_1000": compute + requests}  # fmt: skip
                resize_billed, mark_billed = (f"{d['cpu_ms']:.0f} -> {d['billed_ms']:.0f}" for d in detail[:2])
                cost_rows.append([name, who, variant, resize_billed, mark_billed, f"{gbs:.3f}",
                                  f"${compute:.4f}", f"${requests:.4f}", f"${compute + requests:.4f}"])  # fmt: skip
                ctx.headline[f"cost.{name}.{who}.{variant}.usd_per_1000"] = compute + requests
    result["cost"] = costs
    result["cost_model"] = {
        "price_gb_s": LAMBDA_GBS_PRICE, "price_request": LAMBDA_REQUEST_PRICE, "full_vcpu_mb": FULL_VCPU_MB,
        "metadata_assumed_ms": METADATA_ASSUMED_MS,
        "memory_mb": {s.name: s.memory_mb for s in (RESIZE, WATERMARK, METADATA)},
    }  # fmt: skip
    ctx.out["handoff"] = result
    ctx.log(
        "  Lambda arm64 cost per 1,000 images: 3 workflow invocations; "
        "step CPU ms measured here -> billed ms at the step's memory"
    )
    ctx.log(
        f"  (below {FULL_VCPU_MB} MB a function gets a fraction of a vCPU); "
        f"metadata assumed {METADATA_ASSUMED_MS:.0f} ms; S3, DynamoDB,"
    )
    ctx.log(
        "  Step Functions, API calls and cold starts not included.  "
        "'render split' = render() CPU split in the proportion of the"
    )
    ctx.log(
        "  steps' image work (no hand-off); 'staged + hand-off' = what the two Lambdas do, "
        "intermediates included (core: raw, naive: PNG)."
    )
    ctx.log(
        table(
            [
                "input",
                "engine",
                "estimate",
                "resize ms",
                "watermark ms",
                "GB-s/image",
                "compute/1k",
                "requests/1k",
                "total/1k",
            ],
            cost_rows,
            "lllrrrrrr",
        )
    )


# ==== cold start ==================================================================================
COLD_SUBJECTS = (
    "boto3",
    "functions.resize.handler",
    "functions.watermark.handler",
    "functions.metadata.handler",
    "functions.api.handler",
)
# The clients each step's handler uses (runtime.store = S3, runtime.images = DynamoDB; see
# functions/*/handler.py): a cold start creates those, not the other step's.
COLD_CLIENTS = {
    "functions.resize.handler": ("store",),
    "functions.watermark.handler": ("store",),
    "functions.metadata.handler": ("images",),
    "functions.api.handler": ("store", "images"),
}
_COLD_CHILD = r"""
import json, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
subject, clients = sys.argv[1], sys.argv[2:]
if subject == "boto3":
    import boto3
    t1 = time.perf_counter()
    boto3.client("s3")
else:
    import importlib
    importlib.import_module(subject)
    t1 = time.perf_counter()
    from imgpipe.runtime import default_runtime
    rt = default_runtime()
    if "store" in clients:
        rt.store.client
    if "images" in clients:
        rt.images.client
t2 = time.perf_counter()
cpu_ms = (time.process_time() - c0) * 1e3
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "clients_ms": (t2 - t1) * 1e3, "total_ms": (t2 - t0) * 1e3,
                  "cpu_ms": cpu_ms}))
"""


def cold_env(pin: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IMGPIPE_", "POWERTOOLS_", "BENCH_"))}
    env.update(
        PYTHONPATH=str(REPO),
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        IMGPIPE_INPUT_BUCKET="bench-input",
        IMGPIPE_OUTPUT_BUCKET="bench-output",
        IMGPIPE_TABLE="bench-images",
    )
    return env


def _cold_cmd(subject: str, pin: int | None, extra: tuple[str, ...] = ()) -> list[str]:
    cmd = [PYTHON, *extra, "-c", _COLD_CHILD, subject, *COLD_CLIENTS.get(subject, ())]
    if pin is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(pin), *cmd]
    return cmd


def _import_breakdown(subject: str, env: dict[str, str], pin: int | None, top: int = 6) -> list[tuple[str, float]]:
    proc = subprocess.run(
        _cold_cmd(subject, pin, ("-X", "importtime")),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    pat = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
    rows = []
    for line in proc.stderr.splitlines():
        m = pat.match(line)
        if m and len(m.group(3)) <= 1:  # top-level imports only (the nesting shows as indentation)
            rows.append((m.group(4), int(m.group(2)) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:top]


def coldstart(ctx: Context) -> None:
    """Fresh interpreter per sample (median of N, subjects interleaved).  Measured inside the child
    from before the first import to after the clients exist, so interpreter start-up (identical for
    all subjects) is excluded.  Creating clients makes no network call."""
    n = 3 if ctx.quick else 9
    env = cold_env(ctx.pin)
    # The Lambda assets ship bytecode (stacks/packaging.py), as site-packages has it for boto3: compile
    # ours explicitly (an untimed import writes none when PYTHONDONTWRITEBYTECODE is set, as it is on
    # the dev box), then one untimed pass per subject to warm the file cache.
    subprocess.run([PYTHON, "-m", "compileall", "-q", "imgpipe", "functions"], cwd=REPO, check=True, timeout=120)
    for subject in COLD_SUBJECTS:
        subprocess.run(_cold_cmd(subject, ctx.pin), cwd=REPO, env=env, capture_output=True, timeout=120, check=False)
    samples = _cold_samples(env, n, ctx.pin)
    base = median([s["total_ms"] for s in samples["boto3"]])
    result: dict[str, Any] = {"runs": n, "subjects": {}}
    rows = []
    for subject in COLD_SUBJECTS:
        ss = samples[subject]
        entry = {k: median([s[k] for s in ss]) for k in ("import_ms", "clients_ms", "total_ms", "cpu_ms")}
        entry["ratio_vs_boto3"] = entry["total_ms"] / base
        entry["samples_total_ms"] = [s["total_ms"] for s in ss]
        if subject != "boto3":
            entry["top_imports_ms"] = _import_breakdown(subject, env, ctx.pin)
        result["subjects"][subject] = entry
        ctx.headline[f"coldstart.{subject}.total_ms"] = entry["total_ms"]
        label = 'import boto3; boto3.client("s3")' if subject == "boto3" else subject
        rows.append(
            [
                label,
                f"{entry['import_ms']:.0f}",
                f"{entry['clients_ms']:.0f}",
                f"{entry['total_ms']:.0f}",
                f"{entry['cpu_ms']:.0f}",
                f"{entry['ratio_vs_boto3']:.2f}",
            ]
        )
    ctx.out["coldstart"] = result
    ctx.log(table(["subject", "import ms", "clients ms", "total ms (median)", "CPU ms", "x boto3+s3"], rows))
    for subject in COLD_SUBJECTS[1:]:
        top = ", ".join(f"{m} {ms:.0f}" for m, ms in result["subjects"][subject]["top_imports_ms"])
        ctx.log(f"  {subject} biggest top-level imports (ms, cumulative, one -X importtime run): {top}")
    for subject in COLD_SUBJECTS[1:]:
        e = result["subjects"][subject]
        ctx.target(f"coldstart_{subject.split('.')[1]}", f"Cold start {subject} + clients / boto3+s3 client",
                   e["ratio_vs_boto3"], 1.2, detail=f"{e['total_ms']:.0f} ms vs {base:.0f} ms")  # fmt: skip
    # As a Lambda runs them: tracing on, so Powertools' Tracer loads the X-Ray recorder (and, seeing
    # LAMBDA_TASK_ROOT, builds no sampler clients, as in Lambda).  Reported
    # next to the target (which, like every import measured here, is taken with tracing off).
    lambda_env = {
        "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-bench",
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    traced = _cold_samples({**env, **lambda_env}, n, ctx.pin)
    traced_base = median([s["total_ms"] for s in traced["boto3"]])
    ratios = {subject: median([s["total_ms"] for s in traced[subject]]) / traced_base for subject in COLD_SUBJECTS[1:]}
    result["traced_ratio_vs_boto3"] = ratios
    ctx.log(
        "  with tracing on, as in Lambda (X-Ray recorder loaded): "
        + ", ".join(f"{k.split('.')[1]} {v:.2f}x" for k, v in ratios.items())
    )


def _cold_samples(env: dict[str, str], n: int, pin: int | None) -> dict[str, list[dict[str, float]]]:
    samples: dict[str, list[dict[str, float]]] = {s: [] for s in COLD_SUBJECTS}
    for rep in range(n):
        for subject in _rotate(COLD_SUBJECTS, rep):
            proc = subprocess.run(
                _cold_cmd(subject, pin), cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(f"cold start of {subject} failed: {proc.stderr[-1500:]}")
            samples[subject].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return samples


# ==== codecs: WebP method and AVIF speed sweeps ===================================================
WEBP_QUALITY = 82  # config.Rendition's default quality
AVIF_QUALITY = 82


def codec_settings(quick: bool) -> list[dict[str, Any]]:
    s: list[dict[str, Any]] = [
        {
            "codec": "jpeg",
            "param": "q85 progressive+optimize",
            "format": "JPEG",
            "options": {"quality": 85, "optimize": True, "progressive": True},
        },
        {
            "codec": "jpeg",
            "param": "q82 progressive+optimize",
            "format": "JPEG",
            "options": {"quality": 82, "optimize": True, "progressive": True},
        },
    ]
    for m in range(7):
        s.append(
            {
                "codec": "webp",
                "param": f"method={m}",
                "value": m,
                "format": "WEBP",
                "options": {"quality": WEBP_QUALITY, "method": m},
            }
        )
    for sp in range(4 if not quick else 6, 11):
        s.append(
            {
                "codec": "avif",
                "param": f"speed={sp}",
                "value": sp,
                "format": "AVIF",
                "options": {"quality": AVIF_QUALITY, "speed": sp, "max_threads": 1},
            }
        )
    return s


def _suggest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The knee: fastest setting whose file is within 5% of the codec's smallest and whose PSNR is
    at most 0.1 dB below that smallest file's (at a fixed quality knob, higher effort buys bytes)."""
    smallest = min(rows, key=lambda r: r["bytes"])
    ok = [r for r in rows if r["bytes"] <= 1.05 * smallest["bytes"] and r["psnr"] >= smallest["psnr"] - 0.1]
    return min(ok, key=lambda r: r["cpu_ms"])


S3_GB_MONTH = 0.023  # S3 Standard, us-east-1, first 50 TB


def codecs(ctx: Context) -> None:
    """One 1600-px LANCZOS rendition of the 12 MP photo, encoded with every setting (single thread;
    AVIF max_threads=1).  CPU ms is the median of up to N encodes (slow settings: fewer, ~2 s per
    setting); quality is luma PSNR and 8x8-block SSIM against the unencoded rendition."""
    reps = 1 if ctx.quick else 3
    from imgpipe.topology import WATERMARK

    with Worker("naive", ctx.pin) as w:
        r = w.job(op="codecs", input=ctx.path("jpeg12"), settings=codec_settings(ctx.quick), reps=reps)
    rows = r["rows"]
    from imgpipe.image.encoding import AVIF_SPEED, WEBP_METHOD

    current = {"webp": WEBP_METHOD, "avif": AVIF_SPEED}  # what imgpipe.image.encoding.encode uses
    out_rows = []
    suggestions = {}
    for codec in ("jpeg", "webp", "avif"):
        group = [x for x in rows if x["codec"] == codec]
        if codec != "jpeg":
            suggestions[codec] = _suggest(group)["param"]
        for x in group:
            mark = " (core now)" if codec in current and x.get("value") == current[codec] else ""
            mark += " <- suggested" if suggestions.get(codec) == x["param"] else ""
            # What the setting costs per million images: encode CPU on the watermark Lambda (billed
            # at its memory and CPU share) vs keeping the file in S3 for a month.
            _, gbs = _step_cost(x["cpu_ms"], WATERMARK.memory_mb)
            x["lambda_usd_per_million"] = gbs * LAMBDA_GBS_PRICE * 1e6
            x["s3_usd_per_million_month"] = x["bytes"] / 1e9 * S3_GB_MONTH * 1e6
            out_rows.append([codec, x["param"] + mark, f"{x['cpu_ms']:.0f}", f"{x['bytes'] / 1024:.1f}",
                             f"{x['psnr']:.2f}", f"{x['ssim']:.4f}", f"{x['decode_ms']:.0f}",
                             f"{x['lambda_usd_per_million']:.2f}", f"{x['s3_usd_per_million_month']:.2f}"])  # fmt: skip
            ctx.headline[f"codecs.{codec}.{x['param']}.cpu_ms"] = x["cpu_ms"]
    ctx.out["codecs"] = {
        "size": r["size"],
        "rows": rows,
        "suggested": suggestions,
        "quality": {"webp": WEBP_QUALITY, "avif": AVIF_QUALITY},
    }
    ctx.log(f"  rendition {r['size'][0]}x{r['size'][1]}; WebP quality {WEBP_QUALITY}, AVIF quality {AVIF_QUALITY}")
    ctx.log(
        table(
            [
                "codec",
                "setting",
                "encode CPU ms",
                "KiB",
                "PSNR dB",
                "SSIM(8x8)",
                "decode ms",
                "Lambda $/1M",
                "S3 $/1M/month",
            ],
            out_rows,
            "llrrrrrrr",
        )
    )
    ctx.log(
        "  Lambda $/1M = this encode on the watermark Lambda per million renditions; "
        "S3 $/1M/month = storing them (S3 Standard)."
    )
    ctx.log("  suggested (the knee) = fastest setting within 5% of its codec's smallest file "
            "and <= 0.1 dB below that file's PSNR: "
            + ", ".join(f"{c} {p}" for c, p in suggestions.items()))  # fmt: skip


# ==== the one-glance table ========================================================================
def summary(ctx: Context) -> str | None:
    """input x engine: CPU, ratios, PSNR per rendition, peak RSS - from whichever sections ran."""
    speed_r = ctx.out.get("speed", {}).get("inputs", {})
    qual = ctx.out.get("quality", {})
    mem = ctx.out.get("memory", {})
    names = [r for r, _ in eng.RENDITIONS]
    inputs_ = [n for n in QUALITY_INPUTS if n in speed_r or n in qual or n in mem]
    if not inputs_:
        return None
    rows = []
    for name in inputs_:
        for e in ENGINES:
            s = speed_r.get(name, {}).get(e, {})
            q = qual.get(name, {}).get(e, {})
            m = mem.get(name, {}).get(e, {})
            rows.append([
                name, e,
                f"{s['cpu_ms']:.0f}" if s else "",
                f"{s['x_naive']:.2f}" if s else "",
                f"{s['x_pyvips']:.2f}" if s else "",
                " / ".join(fmt_num(q[r]["psnr"]) for r in names) if q else "",
                f"{max(q[r]['delta_vs_naive_db'] for r in names):+.2f}" if q else "",
                f"{m['peak_rss_mb']:.0f}" if m else "",
            ])  # fmt: skip
    return table(
        ["input", "engine", "CPU ms", "x naive", "x pyvips", "PSNR L/M/S dB", "dB below naive", "peak RSS MB"],
        rows,
        "llrrrrrr",
    )
