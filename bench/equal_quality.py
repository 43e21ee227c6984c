"""Encoder settings at *equal quality*: ``python -m bench.equal_quality [--quick]``.

The ``codecs`` section encodes every WebP ``method`` / AVIF ``speed`` at one quality knob (82), so a
slower setting shows up as both smaller and (slightly) different in quality.  This sweep instead
finds, for every setting, the quality knob that reaches the same 8x8-block SSIM as the reference
setting at 82 (WebP method 4, AVIF speed 8: what ``encoding.encode`` used before it was tuned), and reports
the bytes and the encode CPU time there.  That is the trade the encoder setting really makes: CPU
per rendition against bytes stored and served, at the quality the user sees.

Input: the 1600 px LANCZOS rendition of the 12 MP benchmark photo (as in the ``codecs`` section),
single-threaded (AVIF ``max_threads=1``), the process pinned to one CPU.  CPU ms is the median of 3
encodes (1 for settings slower than a second).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench import metrics
from bench.engines import naive_decode, target_size
from bench.harness import table
from bench.inputs import INPUTS, ensure

WEBP_METHODS = range(7)
AVIF_SPEEDS = range(4, 11)
REFERENCE = {"webp": 4, "avif": 8}
REFERENCE_QUALITY = 82


def _encode(im: Any, codec: str, setting: int, quality: int) -> tuple[bytes, float]:
    options: dict[str, Any] = {"quality": quality}
    if codec == "webp":
        options["method"] = setting
    else:
        options.update(speed=setting, max_threads=1)
    buf = io.BytesIO()
    t = time.process_time()
    im.save(buf, codec.upper(), **options)
    return buf.getvalue(), (time.process_time() - t) * 1e3


def _score(im: Any, blob: bytes) -> tuple[float, float]:
    decoded = metrics.open_rgb(blob)
    return metrics.ssim_block(decoded, im), metrics.psnr_luma(decoded, im)


def _quality_for(im: Any, codec: str, setting: int, target_ssim: float, cache: dict) -> int:
    """The lowest integer quality whose SSIM reaches the target (bisection; SSIM rises with q)."""
    lo, hi = 30, 100
    while lo < hi:
        q = (lo + hi) // 2
        key = (codec, setting, q)
        if key not in cache:
            blob, ms = _encode(im, codec, setting, q)
            cache[key] = (blob, ms, *_score(im, blob))
        if cache[key][2] >= target_ssim:
            hi = q
        else:
            lo = q + 1
    return lo


def run(quick: bool = False) -> list[dict[str, Any]]:
    from PIL import Image

    manifest = ensure(["jpeg12"], log=print)
    full = naive_decode(Path(manifest["jpeg12"]["path"]).read_bytes())
    im = full.resize(target_size(full.width, full.height, 1600), Image.Resampling.LANCZOS)
    del full
    rows: list[dict[str, Any]] = []
    for codec, all_settings in (("webp", WEBP_METHODS), ("avif", AVIF_SPEEDS)):
        settings = range(6, 11) if quick and codec == "avif" else all_settings
        cache: dict[tuple[str, int, int], Any] = {}
        ref_blob, _ = _encode(im, codec, REFERENCE[codec], REFERENCE_QUALITY)
        target_ssim, target_psnr = _score(im, ref_blob)
        for setting in settings:
            q = _quality_for(im, codec, setting, target_ssim, cache)
            blob, first_ms, ssim, psnr = cache.get((codec, setting, q)) or (*_encode(im, codec, setting, q), 0.0, 0.0)
            if not ssim:
                ssim, psnr = _score(im, blob)
            times = [first_ms] + ([_encode(im, codec, setting, q)[1] for _ in range(2)] if first_ms < 1000 else [])
            rows.append({"codec": codec, "setting": setting, "quality": q, "bytes": len(blob),
                         "cpu_ms": statistics.median(times), "ssim": ssim, "psnr": psnr,
                         "target_ssim": target_ssim, "target_psnr": target_psnr})  # fmt: skip
            print(f"  {codec} {setting}: q{q} {len(blob) / 1024:.1f} KiB {statistics.median(times):.0f} ms", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.equal_quality", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="AVIF speeds 6-10 only")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {(os.cpu_count() or 1) - 1})
    rows = run(args.quick)
    out = []
    for codec in ("webp", "avif"):
        group = [r for r in rows if r["codec"] == codec]
        ref = next(r for r in group if r["setting"] == REFERENCE[codec])
        for r in group:
            name = ("method" if codec == "webp" else "speed") + f"={r['setting']}"
            out.append([codec, name + (" (reference)" if r is ref else ""), f"q{r['quality']}",
                        f"{r['bytes'] / 1024:.1f}", f"{r['bytes'] / ref['bytes']:.2f}",
                        f"{r['cpu_ms']:.0f}", f"{r['cpu_ms'] / ref['cpu_ms']:.2f}",
                        f"{r['ssim']:.4f}", f"{r['psnr']:.2f}"])  # fmt: skip
    print(
        "\nEqual quality: every setting at the lowest quality knob reaching the SSIM "
        f"of the reference setting at q{REFERENCE_QUALITY}"
    )
    print(f"(1600 px rendition of {INPUTS['jpeg12'].label}; single-threaded)")
    print(
        table(
            ["codec", "setting", "knob", "KiB", "x ref bytes", "encode CPU ms", "x ref CPU", "SSIM(8x8)", "PSNR dB"],
            out,
            "llrrrrrrr",
        )
    )


if __name__ == "__main__":
    main()
