"""Subprocess side of the harness.

Two modes:

* ``python -m bench.worker ENGINE`` - a persistent worker: JSON jobs on stdin, one JSON answer per
  line.  Used for CPU time: imports are paid once and a warm-up job runs first, like a warm Lambda
  container; the parent interleaves jobs across the engines' workers (one job in flight at a time).
* ``python -m bench.worker ENGINE --once JOB`` - a fresh process that runs one job and reports its
  own peak RSS (a high-water mark never goes down, so it needs a process of its own per
  measurement).

The environment (VIPS_CONCURRENCY=1 etc.) is set by the parent before this process starts, i.e.
before pyvips is imported.  The protocol uses a private copy of stdout; fd 1 is pointed at stderr
so nothing a library prints can corrupt it.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _rss_kb() -> dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _prepare(engine: str) -> None:
    if os.environ.get("BENCH_PIN_CPU") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(os.environ["BENCH_PIN_CPU"])})
    if engine == "pyvips":
        import pyvips

        # The operation cache would serve a repeated thumbnail_buffer of the same bytes from memory.
        pyvips.cache_set_max(0)
        pyvips.cache_set_max_mem(0)
        pyvips.cache_set_max_files(0)
    else:  # loaded before the first job, so no job pays for the import
        importlib.import_module("imgpipe.image.render" if engine == "core" else "PIL.Image")


def _outputs(items: list[dict[str, Any]], save_dir: str | None, tag: str) -> list[dict[str, Any]]:
    result = []
    for item in items:
        meta = {k: v for k, v in item.items() if k != "data"}
        meta["bytes"] = len(item["data"])
        if save_dir:
            path = Path(save_dir) / f"{tag}-{item['name']}.{'png' if item['format'] == 'png' else item['format']}"
            path.write_bytes(item["data"])
            meta["path"] = str(path)
        result.append(meta)
    return result


def run_job(engine: str, job: dict[str, Any], cache: dict[str, bytes]) -> dict[str, Any]:
    from bench import engines

    op = job["op"]
    path = job.get("input")
    data = b""
    if path:
        data = cache.get(path) or Path(path).read_bytes()
        if job.get("cache_input", True):
            cache.clear()
            cache[path] = data
    spec = {**engines.DEFAULT_SPEC, **job.get("spec", {})}
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    if op == "render":
        items = engines.ENGINES[engine](data, spec)
        extra: dict[str, Any] = {}
    elif op == "steps":
        res = engines.run_core_steps(data, spec) if engine == "core" else engines.run_naive_steps(data, spec)
        items = res.pop("outputs", [])
        extra = res
    elif op == "resize_step":
        items, extra = [], engines.run_resize_step(data, spec)
    elif op == "codecs":
        items, extra = [], engines.run_codec_sweep(data, job["settings"], job.get("reps", 3))
    elif op == "routes":
        items, extra = [], engines.run_resample_routes(data, job.get("reps", 3))
    elif op == "noop":
        items, extra = [], {}
    else:
        raise ValueError(f"unknown op {op!r}")
    cpu_ms = (time.process_time() - t_cpu) * 1e3
    wall_ms = (time.perf_counter() - t_wall) * 1e3
    return {
        "ok": True,
        "cpu_ms": cpu_ms,
        "wall_ms": wall_ms,
        "outputs": _outputs(items, job.get("save_dir"), job.get("tag", engine)),
        **extra,
    }


def serve(engine: str) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    _prepare(engine)
    proto.write(json.dumps({"ready": True, "pid": os.getpid(), "rss_kb": _rss_kb()}) + "\n")
    cache: dict[str, bytes] = {}
    for line in sys.stdin:
        job = json.loads(line)
        if job.get("op") == "exit":
            break
        try:
            answer = run_job(engine, job, cache)
        except Exception as exc:  # report, keep serving
            import traceback

            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        proto.write(json.dumps(answer) + "\n")


def once(engine: str, job_b64: str) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    job = json.loads(base64.b64decode(job_b64))
    _prepare(engine)
    before = _rss_kb()
    try:
        answer = run_job(engine, job, {})
    except Exception as exc:
        import traceback

        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    # Peak RSS = VmHWM, the high-water mark of this process's own address space.  Not ru_maxrss:
    # on Linux, exec() carries the parent's high-water mark over into the child's ru_maxrss (the
    # harness holding a decoded 24 MP reference would "leak" into every child), VmHWM starts fresh.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answer["peak_rss_kb"] = _rss_kb().get("VmHWM") or usage.ru_maxrss
    answer["ru_maxrss_kb"] = usage.ru_maxrss  # kept for reference; see above
    answer["rss_after_imports_kb"] = before.get("VmRSS", 0)
    proto.write(json.dumps(answer) + "\n")


def main(argv: list[str]) -> None:
    engine = argv[0]
    if len(argv) >= 3 and argv[1] == "--once":
        once(engine, argv[2])
    else:
        serve(engine)


if __name__ == "__main__":
    main(sys.argv[1:])
