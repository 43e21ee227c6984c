"""End to end on the local stack: upload-to-COMPLETE latency and throughput under concurrency.

Skipped (with the reason) while ``imgpipe.local`` does not exist.  The coupling to the local stack
is the few lines in ``_open_stack``; everything else is plain HTTP against the API:

    GET  {api}/upload-url?filename=x.jpg&contentType=image/jpeg&size=N -> {imageId, uploadUrl, headers}
    PUT  uploadUrl (those headers, the bytes)
    GET  {api}/images/{imageId} until status is COMPLETE or FAILED (deadline-based polling)

Latency = from the start of the PUT to the first poll that sees COMPLETE (poll every 20 ms).
Throughput = images completed per second with C clients uploading back to back; "scales with the
cores" is judged as speedup(C = cores) >= 0.75 x cores over C = 1.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

POLL_INTERVAL_S = 0.02  # latency: fine-grained, so the poll adds at most 20 ms to what is measured
# Throughput: a client's pace (imgpipe.client.Client.wait starts at 0.1 s).  At 20 ms, N clients'
# status polls alone cost ~N x 0.25 of a core here (each is an API invocation and a DynamoDB read),
# which measures the polling, not the pipeline's scaling.
THROUGHPUT_POLL_INTERVAL_S = 0.1
DEADLINE_S = 120.0


@contextlib.contextmanager
def _open_stack() -> Iterator[str]:
    from imgpipe.local.pipeline import LocalPipeline  # the only coupling to the local stack

    with LocalPipeline(api_port=0, aws_port=0) as stack:
        yield stack.api_url.rstrip("/")


def _http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def upload_and_wait(
    api: str,
    data: bytes,
    filename: str = "bench.jpg",
    content_type: str = "image/jpeg",
    poll_s: float = POLL_INTERVAL_S,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    query = urllib.parse.urlencode({"filename": filename, "contentType": content_type, "size": len(data)})
    status, body = _http("GET", f"{api}/upload-url?{query}")
    if status != 200:
        raise RuntimeError(f"upload-url: HTTP {status}: {body[:300]!r}")
    ticket = json.loads(body)
    t_put = time.perf_counter()
    status, body = _http("PUT", ticket["uploadUrl"], data, ticket.get("headers") or {"Content-Type": content_type})
    if status not in (200, 204):
        raise RuntimeError(f"PUT upload: HTTP {status}: {body[:300]!r}")
    t_uploaded = time.perf_counter()
    deadline = t_put + DEADLINE_S
    state = None
    while time.perf_counter() < deadline:
        status, body = _http("GET", f"{api}/images/{ticket['imageId']}")
        if status == 200:
            state = json.loads(body).get("status")
            if state in ("COMPLETE", "FAILED"):
                break
        time.sleep(poll_s)
    t_done = time.perf_counter()
    if state != "COMPLETE":
        raise RuntimeError(f"image {ticket['imageId']} ended {state or 'not found'} after {t_done - t_put:.1f} s")
    return {"ticket_ms": (t_put - t0) * 1e3, "put_ms": (t_uploaded - t_put) * 1e3, "latency_ms": (t_done - t_put) * 1e3}


def _throughput(api: str, data: bytes, clients: int, per_client: int) -> dict[str, Any]:
    errors: list[str] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(per_client):
            try:
                r = upload_and_wait(api, data, poll_s=THROUGHPUT_POLL_INTERVAL_S)
                with lock:
                    latencies.append(r["latency_ms"])
            except Exception as exc:  # counted, not fatal
                with lock:
                    errors.append(str(exc))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    done = len(latencies)
    return {
        "clients": clients,
        "images": done,
        "errors": errors[:5],
        "error_count": len(errors),
        "wall_s": wall,
        "images_per_s": done / wall if wall else 0.0,
    }


def run(ctx: Any) -> None:
    from bench.harness import Worker, median, table

    try:
        importlib.import_module("imgpipe.local.pipeline")
    except ImportError as exc:
        msg = f"SKIPPED: imgpipe.local is not importable yet ({exc}); e2e needs imgpipe.local.pipeline.LocalPipeline"
        ctx.log(f"  {msg}")
        ctx.out["e2e"] = {"skipped": msg}
        return
    data = Path(ctx.path("jpeg12")).read_bytes()
    # The in-process reference: render() wall time on the same file, warm.
    speed = ctx.out.get("speed", {}).get("inputs", {}).get("jpeg12", {}).get("core")
    if speed:
        render_ms = speed["wall_ms"]
    else:
        with Worker("core", None) as w:
            w.job(op="render", input=ctx.path("jpeg1"))
            render_ms = median([w.job(op="render", input=ctx.path("jpeg12"))["wall_ms"] for _ in range(3)])
    cores = os.cpu_count() or 1
    n_latency = 3 if ctx.quick else 7
    per_client = 2 if ctx.quick else 4
    with _open_stack() as api:
        upload_and_wait(api, data)  # warm: first invocation of every function, buckets, table
        samples = [upload_and_wait(api, data) for _ in range(n_latency)]
        levels = sorted({1, cores, 2 * cores})
        runs = {c: _throughput(api, data, c, per_client) for c in levels}
    latency = median([s["latency_ms"] for s in samples])
    base = runs[1]["images_per_s"] or float("nan")
    result = {
        "render_wall_ms": render_ms,
        "latency_ms": latency,
        "latency_samples_ms": [s["latency_ms"] for s in samples],
        "ticket_ms": median([s["ticket_ms"] for s in samples]),
        "put_ms": median([s["put_ms"] for s in samples]),
        "ratio_vs_render": latency / render_ms,
        "throughput": {str(c): {**r, "speedup": r["images_per_s"] / base} for c, r in runs.items()},
        "cores": cores,
    }
    ctx.out["e2e"] = result
    ctx.headline["e2e.latency_ms"] = latency
    ctx.log(f"  12 MP JPEG upload-to-COMPLETE: median {latency:.0f} ms over {n_latency} "
            f"(upload-url {result['ticket_ms']:.0f} ms, PUT {result['put_ms']:.0f} ms); "
            f"in-process render() {render_ms:.0f} ms wall")  # fmt: skip
    rows = [
        [
            c,
            r["images"],
            r["error_count"],
            f"{r['wall_s']:.1f}",
            f"{r['images_per_s']:.2f}",
            f"{r['images_per_s'] / base:.2f}",
        ]
        for c, r in runs.items()
    ]
    ctx.log(table(["clients", "images", "errors", "wall s", "images/s", "speedup"], rows, "rrrrrr"))
    ctx.target("e2e_latency", "Local upload-to-COMPLETE median / in-process render()", result["ratio_vs_render"], 2.0,
               detail=f"{latency:.0f} ms vs {render_ms:.0f} ms")  # fmt: skip
    speedup = runs[cores]["images_per_s"] / base
    errors = sum(r["error_count"] for r in runs.values())
    ctx.target("e2e_scaling",
               f"Local throughput speedup with {cores} concurrent uploads ({cores} cores); target 0.75 x cores",
               speedup, 0.75 * cores, unit="x", higher_is_better=True,
               detail=f"{runs[cores]['images_per_s']:.2f} vs {base:.2f} images/s; errors {errors}")  # fmt: skip
