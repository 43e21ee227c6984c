"""Parent side: worker processes, fresh one-shot processes, the environment they run in, targets."""

from __future__ import annotations

import base64
import json
import math
import os
import select
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgpipe.paths import checkout_root

REPO = checkout_root()
PYTHON = sys.executable
JOB_TIMEOUT_S = 600.0


def worker_env(pin: int | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    # Single-threaded engines: set before the child imports pyvips (libvips reads it at init).
    env["VIPS_CONCURRENCY"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONHASHSEED"] = "0"
    env.pop("VIPS_WARNING", None)
    if pin is not None:
        env["BENCH_PIN_CPU"] = str(pin)
    else:
        env.pop("BENCH_PIN_CPU", None)
    return env


class WorkerError(RuntimeError):
    pass


class Worker:
    """A persistent engine process: one job at a time, JSON lines both ways."""

    def __init__(self, engine: str, pin: int | None) -> None:
        self.engine = engine
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bench.worker", engine],
            cwd=REPO,
            env=worker_env(pin),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # library warnings go to our stderr
            text=True,
            bufsize=1,
        )
        hello = self._read()
        self.pid = hello.get("pid")
        self.rss_after_imports_kb = hello.get("rss_kb", {}).get("VmRSS")

    def _read(self, timeout: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            raise WorkerError(f"{self.engine} worker gave no answer in {timeout:.0f} s; killed it")
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.engine} worker exited (rc={self.proc.poll()})")
        return json.loads(line)

    def job(self, **job: Any) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if not answer.get("ok"):
            where = f"{self.engine} {job.get('op')} {Path(job.get('input') or '-').name}"
            raise WorkerError(f"{where}: {answer.get('error')}\n{answer.get('traceback', '')}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_once(engine: str, job: dict[str, Any], pin: int | None, timeout: float = 300) -> dict[str, Any]:
    """A fresh process for one job; returns its answer including peak_rss_kb (VmHWM)."""
    payload = base64.b64encode(json.dumps(job).encode()).decode()
    proc = subprocess.run(
        [PYTHON, "-m", "bench.worker", engine, "--once", payload],
        cwd=REPO, env=worker_env(pin), capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        raise WorkerError(f"{engine} --once failed (rc={proc.returncode}): {proc.stderr[-2000:]}")
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        raise WorkerError(f"{engine} --once {job.get('op')}: {answer.get('error')}\n{answer.get('traceback', '')}")
    return answer


def median(values: list[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else math.nan


# ---- targets ----------------------------------------------------------------------------------
@dataclass
class Target:
    key: str
    description: str
    measured: float | None  # the ratio or value compared against the limit
    limit: float
    unit: str = "x"
    higher_is_better: bool = False
    detail: str = ""
    status: str = field(init=False)

    def __post_init__(self) -> None:
        if self.measured is None or (isinstance(self.measured, float) and math.isnan(self.measured)):
            self.status = "N/A"
        elif self.higher_is_better:
            self.status = "PASS" if self.measured >= self.limit else "FAIL"
        else:
            self.status = "PASS" if self.measured <= self.limit else "FAIL"

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        value = "n/a" if self.status == "N/A" else fmt_num(self.measured)
        detail = f"  ({self.detail})" if self.detail else ""
        target = f"target {op} {fmt_num(self.limit)}{self.unit}"
        return f"  [{self.status:4}] {self.description}: {value}{self.unit} ({target}){detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "description": self.description, "measured": jsonable(self.measured), "limit": self.limit,
            "unit": self.unit, "higher_is_better": self.higher_is_better, "status": self.status, "detail": self.detail,
        }  # fmt: skip


def fmt_num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def jsonable(v: Any) -> Any:
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def table(headers: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or ("l" + "r" * (len(headers) - 1))
    out = []
    for n, row in enumerate(cells):
        padded = (c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True))
        out.append("  ".join(padded).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
