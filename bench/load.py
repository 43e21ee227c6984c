"""`make load`: the local stack under load and faults, as a user runs it (`imgpipe serve`).

Loopback only, bounded in count (about 1,000 executions) and time (DEADLINE_S).  Starts `imgpipe
serve` on free ports and measures, against the targets of docs/performance.md ("Load and faults"):

1. a batch of 40 valid uploads while a busy resize worker and a busy watermark worker are killed
   (SIGKILL): FAILED images (target 0; the state machine retries Runtime.ExitError);
2. every image worker killed while idle, then 10 uploads: FAILED images (target 0) and retries
   (target 0: a dead worker is replaced before it gets work);
3. `GET /upload-url` p95 in 200 uploads by 16 concurrent clients (target < 0.3 s: the API has
   sandboxes of its own, more under a burst); also 16 clients calling it back to back, idle and
   while 40 images are processed (no target: 16 x the API's load, every call one DynamoDB write
   to the one emulator process);
4. 3 x 200 uploads: growth of `imgpipe serve`'s resident memory per upload (target < 0.3 MB), its
   workers' reported beside it;
5. `imgpipe history IMAGE_ID` with >= 1,000 executions stored (target < 1 s), as a command.

Prints a table and writes bench/results/load.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
from PIL import Image, ImageFilter

from imgpipe.client import ApiError, Client
from imgpipe.config import COMPLETE
from imgpipe.paths import checkout_root

DEADLINE_S = 25 * 60  # the whole run
IMAGE_DEADLINE_S = 180
CONCURRENCY = 8  # clients uploading at once
API_CONCURRENCY = 16
API_CALLS_PER_CLIENT = 25
SWEEP_WAIT_S = 7  # the local lifecycle sweeps every 5 s: memory is read after a sweep
TARGET_RSS_PER_UPLOAD_MB = 0.3
TARGET_API_P95_S = 0.3
TARGET_HISTORY_S = 1.0
EXECUTIONS_FOR_HISTORY = 1000
RESULTS = checkout_root() / "bench" / "results" / "load.json"


def photo(width: int = 800, height: int = 533) -> bytes:
    """A photograph-like JPEG (smooth gradients and some texture): ~70 kB."""
    base = Image.radial_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 40).filter(ImageFilter.GaussianBlur(1.5))
    image = Image.merge("RGB", (base, noise, Image.linear_gradient("L").resize((width, height))))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Serve:
    """`imgpipe serve` on free ports, its output drained (so it never blocks on a full pipe)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imgpipe.cli", "serve", "--port", "0", "--aws-port", "0", "--log-level", "WARNING"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=checkout_root(),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.tail: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        output = ""
        deadline = time.monotonic() + 120
        while "Ctrl-C" not in output:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"imgpipe serve did not start:\n{output}")
            with contextlib.suppress(queue.Empty):
                output += self.lines.get(timeout=0.5)
        self.api_url = re.search(r"API\s+(http://\S+)", output)[1]
        self.aws_port = int(re.search(r"AWS endpoint\s+http://127\.0\.0\.1:(\d+)", output)[1])

    def _drain(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            if len(self.tail) < 2000:
                self.lines.put(line)
            self.tail = [*self.tail[-50:], line]

    @property
    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def workers(self, step: str | None = None) -> list[psutil.Process]:
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                command = child.cmdline()
            except psutil.Error:
                continue
            if "imgpipe.local.workers" in command and (step is None or command[-1] == step):
                found.append(child)
        return found

    def workers_rss_mb(self) -> float:
        total = 0
        for worker in self.workers():
            with contextlib.suppress(psutil.Error):
                total += worker.memory_info().rss
        return total / 2**20

    def busy_worker(self, step: str, deadline_s: float = 20) -> psutil.Process | None:
        """A worker of ``step`` using CPU now (in the middle of an invocation)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            workers = self.workers(step)
            for worker in workers:
                worker.cpu_percent(None)
            time.sleep(0.15)
            for worker in workers:
                try:
                    if worker.cpu_percent(None) > 20:
                        return worker
                except psutil.Error:
                    continue
        return None

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def upload_all(
    client: Client, data: bytes, count: int, prefix: str, concurrency: int = CONCURRENCY
) -> list[dict[str, Any]]:
    """Upload ``count`` copies and wait for each to finish; one result per upload."""

    def one(n: int) -> dict[str, Any]:
        started = time.monotonic()
        try:
            upload = client.request_upload(f"{prefix}-{n}.jpg", "image/jpeg", len(data))
            upload_url_s = time.monotonic() - started
            client.put(upload, data)
            view = client.wait(upload["imageId"], deadline_s=IMAGE_DEADLINE_S)  # a client's pace: 0.1 s, growing to 2 s
            return {
                "imageId": upload["imageId"],
                "status": view["status"],
                "error": view.get("error"),
                "upload_url_s": upload_url_s,
                "seconds": time.monotonic() - started,
            }
        except (ApiError, TimeoutError, OSError) as exc:
            return {"imageId": None, "status": "CLIENT_ERROR", "error": str(exc), "seconds": time.monotonic() - started}

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def failed(results: Iterable[dict]) -> list[dict[str, Any]]:
    return [r for r in results if r["status"] != COMPLETE]


def aws_clients(port: int) -> tuple[Any, Any]:
    import boto3

    endpoint = f"http://127.0.0.1:{port}"
    options = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    return boto3.client("stepfunctions", **options), boto3.client("dynamodb", **options)


def retried_errors(serve: Serve, image_ids: Iterable[str]) -> dict[str, int]:
    """Lambda error names the executions of these images retried, counted."""
    from imgpipe.history import image_history

    sfn, dynamodb = aws_clients(serve.aws_port)
    counts: dict[str, int] = {}
    for image_id in image_ids:
        for summary in image_history(sfn, dynamodb, "imgpipe-images", image_id):
            for state in summary.states:
                for error, _ in state.failures:
                    counts[error] = counts.get(error, 0) + 1
    return counts


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def upload_url_latencies(client: Client) -> list[float]:
    def calls(_: int) -> list[float]:
        seconds = []
        for n in range(API_CALLS_PER_CLIENT):
            started = time.perf_counter()
            client.request_upload(f"p95-{n}.jpg", "image/jpeg", 1000)
            seconds.append(time.perf_counter() - started)
        return seconds

    with ThreadPoolExecutor(API_CONCURRENCY) as pool:
        return [s for batch in pool.map(calls, range(API_CONCURRENCY)) for s in batch]


def in_background(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    return thread, box


def execution_count(sfn: Any) -> tuple[int, int]:
    """(executions stored, of which still running)."""
    total = running = 0
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:imgpipe-pipeline"
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        total += len(page["executions"])
        running += sum(1 for e in page["executions"] if e["status"] == "RUNNING")
    return total, running


def top_up_executions(serve: Serve, image_id: str, target: int) -> int:
    """Redeliver ``image_id``'s event (each ends as DuplicateDelivery) until ``target`` executions exist."""
    sfn, dynamodb = aws_clients(serve.aws_port)
    record = dynamodb.get_item(TableName="imgpipe-images", Key={"imageId": {"S": image_id}})["Item"]
    arn = record["executionId"]["S"]
    event = sfn.get_execution_history(executionArn=arn, maxResults=1)["events"][0]
    event_input = event["executionStartedEventDetails"]["input"]
    total, _ = execution_count(sfn)
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:imgpipe-pipeline"
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda _: sfn.start_execution(stateMachineArn=machine, name=uuid.uuid4().hex, input=event_input),
                range(max(0, target - total)),
            )
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        total, running = execution_count(sfn)
        if not running:
            break
        time.sleep(1)
    return total


def history_command_seconds(serve: Serve, image_id: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "imgpipe.cli", "history", image_id, "--aws-port", str(serve.aws_port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=checkout_root(),
    )
    seconds = time.perf_counter() - started
    return seconds, result.stdout if result.returncode == 0 else result.stdout + result.stderr


def run() -> dict[str, Any]:
    started = time.monotonic()
    data = photo()
    rows: list[tuple[str, str, str, bool | None]] = []
    results: dict[str, Any] = {"image_bytes": len(data), "cores": os.cpu_count()}

    def row(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((name, value, target, ok))
        print(f"  {name}: {value}" + (f"  (target {target}: {'ok' if ok else 'MISSED'})" if target else ""), flush=True)

    serve = Serve()
    try:
        client = Client(serve.api_url, timeout=60)
        print(f"imgpipe serve: API {serve.api_url}, AWS port {serve.aws_port}; image {len(data)} bytes", flush=True)

        warm = upload_all(client, data, 20, "warm")
        row("warm-up uploads FAILED", f"{len(failed(warm))} of 20")

        # 1. busy workers killed mid-batch (larger images: a worker is busy long enough to be caught)
        large = photo(3000, 2000)
        thread, box = in_background(lambda: upload_all(client, large, 40, "busy-kill"))
        killed = []
        for step in ("resize", "watermark"):
            victim = serve.busy_worker(step)
            if victim is not None:
                victim.kill()
                killed.append(step)
        thread.join(IMAGE_DEADLINE_S * 2)
        batch = box[0] if box else []
        retried = retried_errors(serve, [r["imageId"] for r in batch if r["imageId"]])
        results["busy_kill"] = {"killed": killed, "failed": failed(batch), "retried": retried}
        row(
            f"busy workers killed mid-batch of 40 ({', '.join(killed) or 'none found busy'})",
            f"{len(failed(batch))} FAILED; retried {retried or 'nothing'}",
            "0 FAILED",
            not failed(batch) and len(batch) == 40 and bool(killed),
        )

        # 2. idle workers killed, then uploads
        time.sleep(1)
        idle = [w for step in ("resize", "watermark", "metadata") for w in serve.workers(step)]
        for worker in idle:
            worker.kill()
        after = upload_all(client, data, 10, "idle-kill")
        retried = retried_errors(serve, [r["imageId"] for r in after if r["imageId"]])
        results["idle_kill"] = {"killed": len(idle), "failed": failed(after), "retried": retried}
        row(
            f"{len(idle)} idle workers killed, then 10 uploads",
            f"{len(failed(after))} FAILED, retries {retried or 0}",
            "0 FAILED, 0 retries",
            not failed(after) and not retried,
        )

        # 3. upload-url p95 at concurrency 16: 200 uploads by 16 clients (each: upload-url, PUT, wait), and
        # 16 clients calling only upload-url, back to back, idle and while 40 images are processed
        uploads = upload_all(client, data, 200, "api-c16", concurrency=API_CONCURRENCY)
        in_uploads = [r["upload_url_s"] for r in uploads if "upload_url_s" in r]
        idle_latencies = upload_url_latencies(client)
        thread, box = in_background(lambda: upload_all(client, data, 40, "api-load"))
        time.sleep(1)
        loaded_latencies = upload_url_latencies(client)
        thread.join(IMAGE_DEADLINE_S * 2)
        p95_uploads = percentile(in_uploads, 0.95)
        p95_idle, p95_loaded = percentile(idle_latencies, 0.95), percentile(loaded_latencies, 0.95)
        results["upload_url"] = {
            "p95_in_200_uploads_c16_s": p95_uploads,
            "p50_in_200_uploads_c16_s": statistics.median(in_uploads),
            "uploads_failed": failed(uploads),
            "p95_back_to_back_idle_s": p95_idle,
            "p95_back_to_back_loaded_s": p95_loaded,
            "p50_back_to_back_loaded_s": statistics.median(loaded_latencies),
        }
        row(
            "upload-url p95 in 200 uploads at concurrency 16",
            f"{p95_uploads:.3f} s (p50 {statistics.median(in_uploads):.3f} s; {len(failed(uploads))} FAILED)",
            f"< {TARGET_API_P95_S} s",
            p95_uploads < TARGET_API_P95_S and not failed(uploads),
        )
        row("upload-url p95, 16 clients back to back, idle", f"{p95_idle:.3f} s")
        row(
            "upload-url p95, 16 clients back to back, 40 images processing",
            f"{p95_loaded:.3f} s (p50 {statistics.median(loaded_latencies):.3f} s)",
        )
        results["load_average"] = os.getloadavg()

        # 4. memory over 3 x 200 uploads
        time.sleep(SWEEP_WAIT_S)
        rss = [serve.rss_mb]
        workers_rss = [serve.workers_rss_mb()]
        round_failed = 0
        for n in range(3):
            round_results = upload_all(client, data, 200, f"round{n}")
            round_failed += len(failed(round_results))
            time.sleep(SWEEP_WAIT_S)
            rss.append(serve.rss_mb)
            workers_rss.append(serve.workers_rss_mb())
            print(f"    round {n + 1}: serve RSS {rss[-1]:.0f} MB, workers {workers_rss[-1]:.0f} MB", flush=True)
        per_upload = (rss[-1] - rss[0]) / 600
        results["memory"] = {
            "serve_rss_mb": rss,
            "workers_rss_mb": workers_rss,
            "per_upload_mb": per_upload,
            "failed": round_failed,
        }
        row("imgpipe serve RSS, before / after 3 x 200 uploads", " / ".join(f"{v:.0f} MB" for v in (rss[0], rss[-1])))
        row(
            "RSS growth per upload (3 x 200)",
            f"{per_upload:.3f} MB",
            f"< {TARGET_RSS_PER_UPLOAD_MB} MB",
            per_upload < TARGET_RSS_PER_UPLOAD_MB,
        )
        row("workers' RSS, before / after", " / ".join(f"{v:.0f} MB" for v in (workers_rss[0], workers_rss[-1])))
        row("FAILED in the 600 uploads", str(round_failed), "0", round_failed == 0)

        # 5. history of one image among >= 1,000 executions
        image_id = next(r["imageId"] for r in warm if r["status"] == COMPLETE)
        total = top_up_executions(
            serve, next(r["imageId"] for r in batch if r["status"] == COMPLETE), EXECUTIONS_FOR_HISTORY
        )
        runs = [history_command_seconds(serve, image_id) for _ in range(3)]
        seconds = statistics.median(s for s, _ in runs)
        shown = f"image {image_id}" in runs[0][1]
        results["history"] = {"executions": total, "seconds": [s for s, _ in runs], "shown": shown}
        row(
            f"imgpipe history IMAGE_ID, {total} executions stored",
            f"{seconds:.2f} s (median of 3, whole command)",
            f"< {TARGET_HISTORY_S} s",
            seconds < TARGET_HISTORY_S and shown and total >= EXECUTIONS_FOR_HISTORY,
        )
    finally:
        serve.stop()
    results["rows"] = rows
    results["seconds"] = time.monotonic() - started
    return results


def _deadline_passed() -> None:
    print(f"make load: stopped after its {DEADLINE_S} s deadline", flush=True)
    for process in psutil.Process().children(recursive=True):  # imgpipe serve (its workers exit on EOF)
        process.kill()
    os._exit(2)


def main() -> int:
    print("make load: imgpipe serve under load and faults (loopback only)", flush=True)
    watchdog = threading.Timer(DEADLINE_S, _deadline_passed)
    watchdog.daemon = True
    watchdog.start()
    results = run()
    watchdog.cancel()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"\n{'measure':<64} {'value':<44} {'target':<22} ok")
    for name, value, target, ok in results["rows"]:
        print(f"{name:<64} {value:<44} {target:<22} {'' if ok is None else ('yes' if ok else 'NO')}")
    load = ", ".join(f"{value:.1f}" for value in results.get("load_average", ()))
    print(f"\n{results['seconds']:.0f} s on {results['cores']} cores (load average {load} during the run);")
    print(f"results in {RESULTS.relative_to(checkout_root())}")
    return 0 if all(ok is not False for *_, ok in results["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
