"""The three ways of doing the benchmark job, plus the staged-pipeline and codec jobs.

Imported only inside worker subprocesses, and every engine imports its own libraries lazily, so a
pyvips worker never loads Pillow (and vice versa): peak RSS compares like with like.

The job: an image's bytes in; renditions at 1600/800/320 long edge, upright (EXIF),
never upscaled, each with the text watermark, encoded as JPEG q85 (progressive, optimised Huffman,
no metadata, 4:2:0: the encoder options of ``imgpipe.image.encoding.encode``, used by all three engines
so the encoders do the same work).

* ``naive``  - a frozen copy of "the obvious Pillow code": full decode, LANCZOS from full size for
  every rendition, watermark, encode.  Frozen here (not imported from imgpipe) so that it stays the
  fixed yardstick while imgpipe.image is optimised.
* ``core``   - the project: ``imgpipe.image.render.render`` (whatever it currently does).
* ``pyvips`` - libvips in its best form: shrink-on-load via ``thumbnail_buffer`` (one decode, straight
  to the largest rendition), the smaller renditions cascaded from that one in memory, ``vips text``
  + composite over the stamp's box only, ``jpegsave`` Q85.  Run with VIPS_CONCURRENCY=1 and the
  operation cache off (otherwise repeated jobs on the same buffer would be served from the cache).
"""

from __future__ import annotations

import io
import time
from typing import Any

RENDITIONS = (("large", 1600), ("medium", 800), ("small", 320))
QUALITY = 85

# The default job spec; the parent sends variations (quality pass: watermark off).
DEFAULT_SPEC: dict[str, Any] = {"renditions": RENDITIONS, "quality": QUALITY, "format": "jpeg", "watermark": True}


def target_size(width: int, height: int, long_edge: int) -> tuple[int, int]:
    """Same rule as imgpipe.image.cascade.target_size: fit the long edge, never upscale."""
    scale = min(1.0, long_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _watermark_defaults():
    from imgpipe.config import Watermark

    return Watermark()


# ---- the project ------------------------------------------------------------------------------
def core_settings(spec: dict[str, Any]):
    from imgpipe.config import PipelineSettings, Rendition, Watermark

    renditions = tuple(
        Rendition(name, edge, format=spec["format"], quality=spec["quality"]) for name, edge in spec["renditions"]
    )
    watermark = Watermark() if spec["watermark"] else Watermark(text="")
    return PipelineSettings(renditions=renditions, watermark=watermark)


_SETTINGS_BY_SPEC: dict[str, Any] = {}  # one PipelineSettings per spec for the worker's lifetime


def run_core(data: bytes, spec: dict[str, Any]) -> list[dict[str, Any]]:
    from imgpipe.image.render import render

    key = repr(sorted((k, repr(v)) for k, v in spec.items()))
    settings = _SETTINGS_BY_SPEC.get(key) or _SETTINGS_BY_SPEC.setdefault(key, core_settings(spec))
    _, encoded = render(data, settings)
    return [{"name": e.name, "data": e.data, "width": e.width, "height": e.height, "format": e.format} for e in encoded]


# ---- naive Pillow (frozen) --------------------------------------------------------------------
def _naive_stamp(text: str, px: int, opacity: float):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=px)
    stroke = max(1, px // 14)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    stamp = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text(
        (-left, -top), text, font=font, fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 255)
    )
    stamp.putalpha(stamp.getchannel("A").point(lambda a: round(a * opacity)))
    return stamp


def naive_watermark(im):
    wm = _watermark_defaults()
    if max(im.size) < wm.min_edge:
        return im
    short = min(im.size)
    px = max(8, round(short * wm.size))
    margin = round(short * wm.margin)
    stamp = _naive_stamp(wm.text, px, wm.opacity)
    out = im.copy()
    out.paste(stamp, (out.width - stamp.width - margin, out.height - stamp.height - margin), stamp)
    return out


def naive_decode(data: bytes):
    from PIL import Image, ImageOps

    im = Image.open(io.BytesIO(data))
    im.load()
    im = ImageOps.exif_transpose(im)
    return im if im.mode == "RGB" else im.convert("RGB")


def naive_encode(im, spec: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    if spec["format"] == "png":
        im.save(buf, "PNG", compress_level=6)
    else:
        im.save(buf, "JPEG", quality=spec["quality"], optimize=True, progressive=True)
    return buf.getvalue()


def naive_resize(full, spec: dict[str, Any]) -> list[tuple[str, Any]]:
    from PIL import Image

    out = []
    for name, edge in spec["renditions"]:
        size = target_size(full.width, full.height, edge)
        out.append((name, full if size == full.size else full.resize(size, Image.Resampling.LANCZOS)))
    return out


def run_naive(data: bytes, spec: dict[str, Any]) -> list[dict[str, Any]]:
    full = naive_decode(data)
    out = []
    for name, im in naive_resize(full, spec):
        marked = naive_watermark(im) if spec["watermark"] else im
        out.append(
            {
                "name": name,
                "data": naive_encode(marked, spec),
                "width": im.width,
                "height": im.height,
                "format": spec["format"],
            }
        )
    return out


# ---- pyvips, best form ------------------------------------------------------------------------
_vips_stamps: dict[tuple, Any] = {}


def _vips_stamp(text: str, px: int, opacity: float):
    """White text, dark outline (dilated mask), opacity: the same look as the Pillow stamp."""
    import pyvips

    key = (text, px, opacity)
    if key in _vips_stamps:  # like the Pillow font cache: per warm process
        return _vips_stamps[key]
    stroke = max(1, px // 14)
    mask = pyvips.Image.text(text, font=f"DejaVu Sans {px}", dpi=72)
    mask = mask.embed(stroke, stroke, mask.width + 2 * stroke, mask.height + 2 * stroke)
    size = 2 * stroke + 1
    outline = mask.rank(size, size, size * size - 1)  # max filter = dilation
    alpha = (outline * opacity).cast("uchar")
    stamp = mask.bandjoin([mask, mask, alpha]).copy(interpretation="srgb").copy_memory()
    _vips_stamps[key] = stamp
    return stamp


def vips_watermark(img):
    wm = _watermark_defaults()
    if max(img.width, img.height) < wm.min_edge:
        return img
    short = min(img.width, img.height)
    px = max(8, round(short * wm.size))
    margin = round(short * wm.margin)
    stamp = _vips_stamp(wm.text, px, wm.opacity)
    x, y = img.width - stamp.width - margin, img.height - stamp.height - margin
    x, y = max(0, x), max(0, y)
    w, h = min(stamp.width, img.width - x), min(stamp.height, img.height - y)
    # Composite over the stamp's box only, then insert it back: the rest is untouched.
    region = img.crop(x, y, w, h).composite2(stamp.crop(0, 0, w, h), "over")
    return img.insert(region.extract_band(0, n=3).cast("uchar"), x, y)


def vips_encode(img, spec: dict[str, Any]) -> bytes:
    if spec["format"] == "png":
        return img.pngsave_buffer(compression=6, keep="none")
    return img.jpegsave_buffer(Q=spec["quality"], optimize_coding=True, interlace=True, keep="none")


def run_pyvips(data: bytes, spec: dict[str, Any]) -> list[dict[str, Any]]:
    import pyvips

    header = pyvips.Image.new_from_buffer(data, "")  # header only: lazy
    width, height = header.width, header.height
    orientation = header.get("orientation") if header.get_typeof("orientation") else 1
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    renditions = sorted(spec["renditions"], key=lambda r: -r[1])
    sizes = {name: target_size(width, height, edge) for name, edge in renditions}
    first = renditions[0][0]
    tw, th = sizes[first]
    # One decode, shrink-on-load (JPEG DCT scaling), autorotated, straight to the largest size.
    largest = pyvips.Image.thumbnail_buffer(data, tw, height=th, size="force").copy_memory()
    if largest.bands == 4:
        largest = largest.flatten(background=[255, 255, 255])
    if largest.bands == 1:
        largest = largest.colourspace("srgb")
    out = {}
    for name, _ in renditions:
        tw, th = sizes[name]
        img = (
            largest
            if (tw, th) == (largest.width, largest.height)
            else largest.thumbnail_image(tw, height=th, size="force")
        )
        marked = vips_watermark(img) if spec["watermark"] else img
        out[name] = {
            "name": name,
            "data": vips_encode(marked, spec),
            "width": img.width,
            "height": img.height,
            "format": spec["format"],
        }
    return [out[name] for name, _ in spec["renditions"]]


ENGINES = {"naive": run_naive, "core": run_core, "pyvips": run_pyvips}


# ---- staged pipeline (resize step -> lossless hand-off -> watermark step) ----------------------
def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    return (time.process_time() - t[0]) * 1e3, (time.perf_counter() - t[1]) * 1e3


def run_core_steps(data: bytes, spec: dict[str, Any]) -> dict[str, Any]:
    """What the two Lambdas do, back to back, without S3: timed per step and per hand-off.

    resize step  = renditions.resize + intermediate.encode_intermediate (per rendition)
    watermark    = intermediate.decode_intermediate + watermark.apply + encoding.encode
    """
    from imgpipe.image import encoding, intermediate, renditions, watermark

    settings = core_settings(spec)
    t = _clock()
    _, resized = renditions.resize(data, settings)
    resize_cpu, _ = _since(t)
    intermediates, enc_ms = [], []
    for rendition, image in resized:
        t = _clock()
        blob = intermediate.encode_intermediate(image)
        enc_ms.append(_since(t)[0])
        intermediates.append((rendition, blob, image.size))
    decoded, dec_ms = [], []
    for rendition, blob, _ in intermediates:
        t = _clock()
        decoded.append((rendition, intermediate.decode_intermediate(blob)))
        dec_ms.append(_since(t)[0])
    t = _clock()
    outputs = []
    for rendition, image in decoded:
        enc = encoding.encode(watermark.apply(image, settings.watermark, None), rendition, settings)
        outputs.append(
            {"name": enc.name, "data": enc.data, "width": enc.width, "height": enc.height, "format": enc.format}
        )
    mark_cpu, _ = _since(t)
    return {
        "outputs": outputs,
        "resize_cpu_ms": resize_cpu,
        "intermediate_encode_ms": enc_ms,
        "intermediate_decode_ms": dec_ms,
        "intermediate_bytes": [len(b) for _, b, _ in intermediates],
        "intermediate_sizes": [list(s) for _, _, s in intermediates],
        "watermark_encode_cpu_ms": mark_cpu,
        "resize_step_cpu_ms": resize_cpu + sum(enc_ms),
        "watermark_step_cpu_ms": sum(dec_ms) + mark_cpu,
    }


def run_naive_steps(data: bytes, spec: dict[str, Any]) -> dict[str, Any]:
    """The naive baseline split the same way (PNG compress_level=1 hand-off, as core v1 does)."""
    from PIL import Image

    t = _clock()
    resized = naive_resize(naive_decode(data), spec)
    resize_cpu = _since(t)[0]
    blobs, enc_ms, dec_ms = [], [], []
    for _, im in resized:
        t = _clock()
        buf = io.BytesIO()
        im.save(buf, "PNG", compress_level=1)
        blobs.append(buf.getvalue())
        enc_ms.append(_since(t)[0])
    decoded = []
    for blob in blobs:
        t = _clock()
        im = Image.open(io.BytesIO(blob))
        im.load()
        decoded.append(im)
        dec_ms.append(_since(t)[0])
    t = _clock()
    for im in decoded:
        naive_encode(naive_watermark(im) if spec["watermark"] else im, spec)
    mark_cpu = _since(t)[0]
    return {
        "resize_cpu_ms": resize_cpu,
        "intermediate_encode_ms": enc_ms,
        "intermediate_decode_ms": dec_ms,
        "intermediate_bytes": [len(b) for b in blobs],
        "watermark_encode_cpu_ms": mark_cpu,
        "resize_step_cpu_ms": resize_cpu + sum(enc_ms),
        "watermark_step_cpu_ms": sum(dec_ms) + mark_cpu,
    }


def run_resize_step(data: bytes, spec: dict[str, Any]) -> dict[str, Any]:
    """The resize Lambda's own logic (functions.resize.logic) against an in-memory store."""
    from functions.resize.logic import resize_image

    class MemoryStore:
        def __init__(self) -> None:
            self.objects: dict[tuple[str, str], bytes] = {"in": data}

        def get(self, bucket: str, key: str, max_bytes: int) -> bytes:
            return self.objects["in"]

        def put(self, bucket: str, key: str, body: bytes, content_type: str, cache_control: str | None = None) -> None:
            self.objects[(bucket, key)] = body

        def delete(self, bucket: str, key: str) -> None:
            self.objects.pop((bucket, key), None)

    store = MemoryStore()
    image_id = "0" * 32  # the resize step only takes upload keys the API issues: uploads/<32 hex>/<name>
    event = {"imageId": image_id, "source": {"bucket": "in", "key": f"uploads/{image_id}/bench"}}
    result = resize_image(event, store, core_settings(spec), "out")
    return {
        "intermediates": len(result.get("intermediates", [])),
        "stored_bytes": sum(len(v) for k, v in store.objects.items() if k != "in"),
    }


# ---- encoder sweep ----------------------------------------------------------------------------
def run_codec_sweep(data: bytes, settings: list[dict[str, Any]], reps: int, long_edge: int = 1600) -> dict[str, Any]:
    """Encode one LANCZOS 1600-px rendition with each setting; CPU ms (median), bytes, quality."""
    import statistics

    from PIL import Image

    from bench import metrics

    full = naive_decode(data)
    src = full.resize(target_size(full.width, full.height, long_edge), Image.Resampling.LANCZOS)
    del full
    rows = []
    for s in settings:
        opts = dict(s["options"])
        times, walls, blob = [], [], b""
        for _ in range(reps):
            buf = io.BytesIO()
            t = _clock()
            src.save(buf, s["format"], **opts)
            cpu, wall = _since(t)
            times.append(cpu)
            walls.append(wall)
            blob = buf.getvalue()
        t = _clock()
        decoded = metrics.open_rgb(blob)
        decode_ms = _since(t)[0]
        rows.append(
            {
                **s,
                "cpu_ms": statistics.median(times),
                "wall_ms": statistics.median(walls),
                "bytes": len(blob),
                "decode_ms": decode_ms,
                "psnr": metrics.psnr_luma(decoded, src),
                "ssim": metrics.ssim_block(decoded, src),
            }
        )
    return {"size": list(src.size), "rows": rows}


# ---- resample routes: what stock Pillow offers for the large rendition ------------------------
def _route_full(data: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def _route_draft(data: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (im.width // 2, im.height // 2))  # libjpeg's DCT-domain 1/2 scale
    im.load()
    return im


def _route_ycbcr(data: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.draft("YCbCr", None)  # no colour conversion in the decoder
    im.load()
    return im


def _resample_routes() -> dict[str, tuple[Any, Any]]:
    """name -> (decode(bytes), resample(image, size) -> RGB image)."""
    from PIL import Image

    from imgpipe.image.cascade import lanczos as _lanczos

    lanczos, bicubic = Image.Resampling.LANCZOS, Image.Resampling.BICUBIC

    def ycbcr_split(im, size):
        y, cb, cr = im.split()
        chroma = [c.reduce(2).resize(size, lanczos) for c in (cb, cr)]  # 4:2:0 chroma has no more
        return Image.merge("YCbCr", [_lanczos(y, size), *chroma]).convert("RGB")

    return {
        "LANCZOS from the full frame (core)": (_route_full, _lanczos),
        "BICUBIC from the full frame": (_route_full, lambda im, size: im.resize(size, bicubic)),
        "box 1/2 (reduce) + LANCZOS": (_route_full, lambda im, size: _lanczos(im.reduce(2), size)),
        "JPEG DCT 1/2 (draft) + LANCZOS": (_route_draft, _lanczos),
        "YCbCr: luma LANCZOS, chroma box 1/2 + LANCZOS": (_route_ycbcr, ycbcr_split),
    }


def run_resample_routes(data: bytes, reps: int, long_edge: int = 1600) -> dict[str, Any]:
    """Each route's decode + resample CPU (median of ``reps``) for the large rendition, and its luma
    PSNR loss after JPEG q85 against full decode + one-call LANCZOS (the quality section's rule)."""
    import statistics

    from PIL import Image

    from bench import metrics

    full = _route_full(data)
    size = target_size(full.width, full.height, long_edge)
    reference = full.resize(size, Image.Resampling.LANCZOS)
    del full
    baseline = metrics.psnr_luma(metrics.open_rgb(naive_encode(reference, DEFAULT_SPEC)), reference)
    rows = []
    for name, (decode, resample) in _resample_routes().items():
        decode_ms, resample_ms = [], []
        for _ in range(reps):
            t = _clock()
            im = decode(data)
            decode_ms.append(_since(t)[0])
            t = _clock()
            out = resample(im, size)
            resample_ms.append(_since(t)[0])
            del im
        psnr = metrics.psnr_luma(metrics.open_rgb(naive_encode(out, DEFAULT_SPEC)), reference)
        rows.append(
            {
                "route": name,
                "decode_ms": statistics.median(decode_ms),
                "resample_ms": statistics.median(resample_ms),
                "loss_db": baseline - psnr,
            }
        )
    return {"size": list(size), "rows": rows}
