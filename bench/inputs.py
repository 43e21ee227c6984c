"""Deterministic benchmark inputs, synthesised with Pillow alone (no numpy in the venv).

Every input is derived from ``random.Random(seed)`` and Pillow's own operations, so two machines with
the same Pillow produce the same pixels.  Files are cached in ``bench/.inputs/`` under a name that
embeds ``GENERATOR_VERSION``; bump it whenever the synthesis changes.

"Photographic-like" means the content a camera JPEG has and a resampler can get wrong:
smooth gradients (banding), multi-octave blotchy texture (natural surfaces), hard edges at every
angle, out-of-focus shapes, fine line gratings (moire), small text (ringing), and per-pixel sensor
noise (what makes real photos expensive to compress).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATOR_VERSION = 1
INPUT_DIR = Path(__file__).resolve().parent / ".inputs"


@dataclass(frozen=True)
class InputSpec:
    name: str  # short key used in tables and JSON
    label: str  # human description
    width: int  # stored pixel size (before EXIF orientation)
    height: int
    format: str  # JPEG | PNG
    kind: str  # photo | zoneplate
    seed: int
    orientation: int = 1
    noise: bool = True
    alpha: bool = False

    @property
    def filename(self) -> str:
        ext = "jpg" if self.format == "JPEG" else "png"
        return f"{self.name}-v{GENERATOR_VERSION}.{ext}"

    @property
    def path(self) -> Path:
        return INPUT_DIR / self.filename

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


INPUTS: dict[str, InputSpec] = {
    s.name: s
    for s in (
        InputSpec("jpeg1", "1 MP JPEG (1224x816)", 1224, 816, "JPEG", "photo", 11),
        InputSpec("jpeg12", "12 MP JPEG (4000x3000)", 4000, 3000, "JPEG", "photo", 12),
        InputSpec("jpeg24", "24 MP JPEG (6000x4000)", 6000, 4000, "JPEG", "photo", 24),
        InputSpec("png12", "12 MP PNG (4000x3000)", 4000, 3000, "PNG", "photo", 13),
        # Stored landscape, EXIF orientation 6: upright it is a 3000x4000 portrait.
        InputSpec(
            "portrait12",
            "12 MP JPEG, EXIF orientation 6 (upright 3000x4000)",
            4000,
            3000,
            "JPEG",
            "photo",
            6,
            orientation=6,
        ),
        InputSpec(
            "zoneplate", "12 MP zone plate JPEG q95 (4000x3000, 0..0.5 cycles/px)", 4000, 3000, "JPEG", "zoneplate", 0
        ),
        # 8640x5760 = 49.77 MP: just under Limits.max_pixels (50 MP).  No sensor noise, so the PNG
        # stays under Limits.max_bytes (40 MB) like a real exported render/screenshot would.
        InputSpec("png50", "50 MP PNG (8640x5760)", 8640, 5760, "PNG", "photo", 50, noise=False),
        # The memory sizing's worst case (config.py: "a 50 MP RGBA frame is 200 MB").
        InputSpec(
            "png50a",
            "50 MP RGBA PNG (8640x5760, alpha gradient)",
            8640,
            5760,
            "PNG",
            "photo",
            51,
            noise=False,
            alpha=True,
        ),
    )
}


# ---- synthesis --------------------------------------------------------------------------------
def _noise_l(rng: random.Random, size: tuple[int, int]):
    from PIL import Image

    return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))


def _smooth_field(rng: random.Random, size: tuple[int, int], cells: tuple[int, int]):
    """Uniform noise on a coarse grid, upsampled bicubically: one octave of value noise."""
    from PIL import Image

    return _noise_l(rng, cells).resize(size, Image.Resampling.BICUBIC)


def _background(rng: random.Random, w: int, h: int):
    """Sky/ground-like gradients plus three octaves of blotchy texture, built at 1/4 size."""
    from PIL import Image, ImageChops

    sw, sh = max(16, w // 4), max(16, h // 4)
    grad_v = Image.linear_gradient("L").resize((sw, sh), Image.Resampling.BICUBIC)
    grad_h = grad_v.transpose(Image.Transpose.ROTATE_90).resize((sw, sh), Image.Resampling.BICUBIC)
    radial = Image.radial_gradient("L").resize((sw, sh), Image.Resampling.BICUBIC)
    bands = []
    for _ in range(3):
        g = Image.blend(grad_v, grad_h, rng.uniform(0.1, 0.9))
        g = Image.blend(g, radial, rng.uniform(0.0, 0.5))
        lo, hi = rng.randint(10, 90), rng.randint(150, 245)
        g = g.point(lambda v, lo=lo, hi=hi: lo + v * (hi - lo) // 255)
        bands.append(g)
    base = Image.merge("RGB", bands)
    # Octaves of value noise: shared luminance texture plus a little independent chroma.
    for cells, amount in (((6, 4), 0.35), ((24, 16), 0.25), ((96, 64), 0.18), ((sw // 6, sh // 6), 0.12)):
        lum = _smooth_field(rng, (sw, sh), cells)
        tex = Image.merge("RGB", [lum, lum, ImageChops.add(lum, _smooth_field(rng, (sw, sh), cells), 2.0)])
        base = Image.blend(base, tex, amount)
    return base.resize((w, h), Image.Resampling.BICUBIC)


def _shapes(rng: random.Random, im, count: int, blur: float) -> None:
    """Hard-edged shapes at every angle; the blurred layer stands for out-of-focus objects."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = im.size
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(count):
        color = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255), rng.randint(160, 255))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.01, 0.12) * min(w, h)
        kind = rng.random()
        if kind < 0.35:
            draw.ellipse((cx - r, cy - r * rng.uniform(0.4, 1.0), cx + r, cy + r), fill=color)
        elif kind < 0.7:
            n = rng.randint(3, 7)
            pts = [
                (
                    cx + r * math.cos(2 * math.pi * i / n + rng.uniform(-0.3, 0.3)),
                    cy + r * math.sin(2 * math.pi * i / n),
                )
                for i in range(n)
            ]
            draw.polygon(pts, fill=color)
        else:
            draw.line((cx - r, cy - r / 2, cx + r, cy + r / 2), fill=color, width=max(1, int(r / 20)))
    if blur:
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
    im.paste(layer, (0, 0), layer)


def _gratings(rng: random.Random, im) -> None:
    """Fences, window blinds, fabric: fine periodic lines that moire if a resampler aliases."""
    from PIL import ImageDraw

    w, h = im.size
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x0, y0 = rng.randint(0, w * 3 // 4), rng.randint(0, h * 3 // 4)
        bw, bh = rng.randint(w // 12, w // 5), rng.randint(h // 12, h // 5)
        period = rng.choice((2, 3, 4, 5, 7))
        shade = rng.randint(0, 80)
        vertical = rng.random() < 0.5
        for off in range(0, bw if vertical else bh, period):
            if vertical:
                draw.line((x0 + off, y0, x0 + off + bh // 8, y0 + bh), fill=(shade, shade, shade), width=1)
            else:
                draw.line((x0, y0 + off, x0 + bw, y0 + off + bw // 10), fill=(shade, shade, shade), width=1)


def _text(rng: random.Random, im) -> None:
    """Signs, labels, printed matter: small high-contrast glyphs (ringing and legibility)."""
    from PIL import ImageDraw, ImageFont

    w, h = im.size
    draw = ImageDraw.Draw(im)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789  "
    scale = max(w, h) / 4000
    for _ in range(14):
        px = max(8, int(rng.choice((10, 14, 18, 24, 36, 60, 120)) * scale))
        font = ImageFont.load_default(size=px)
        x, y = rng.randint(0, max(1, w - 30 * px)), rng.randint(0, max(1, h - 6 * px))
        shade = rng.choice(((10, 10, 10), (245, 245, 245), (200, 30, 30), (20, 40, 160)))
        for line in range(rng.randint(1, 5)):
            text = "".join(rng.choice(letters) for _ in range(rng.randint(12, 40)))
            draw.text((x, y + line * px * 1.3), text, font=font, fill=shade)


def _sensor_noise(rng: random.Random, im, amplitude: int = 7):
    """Independent per-channel noise of +-amplitude (what makes camera JPEGs big and slow)."""
    from PIL import Image, ImageChops

    size = im.size
    span = 2 * amplitude
    noise = [_noise_l(rng, size).point(lambda v: v * span // 255) for _ in range(3)]
    return ImageChops.add(im, Image.merge("RGB", noise), 1.0, -amplitude)


def synth_photo(w: int, h: int, seed: int, noise: bool = True):
    from PIL import ImageFilter

    rng = random.Random(seed)
    im = _background(rng, w, h)
    area_scale = w * h / 12e6
    _shapes(rng, im, max(8, int(40 * area_scale)), blur=max(w, h) / 400)
    _shapes(rng, im, max(8, int(60 * area_scale)), blur=0)
    _gratings(rng, im)
    _text(rng, im)
    im = im.filter(ImageFilter.GaussianBlur(0.5))  # lens softness: no perfectly 1-px-sharp edges
    return _sensor_noise(rng, im) if noise else im


def synth_zoneplate(w: int, h: int):
    """cos(k r^2) about the centre, reaching 0.5 cycles/px (Nyquist) exactly at the corners.

    Built as an outer product, cos(k(x^2+y^2)) = cos(kx^2)cos(ky^2) - sin(kx^2)sin(ky^2), so a
    12 MP plate is four stretched 1-D rows and one ImageMath expression instead of 12 M cos() calls.
    Local frequency at radius r is k r / pi cycles/px.
    """
    from PIL import Image, ImageMath

    k = zoneplate_k(w, h)
    cx, cy = (w - 1) / 2, (h - 1) / 2

    def row(fn, n, c):
        im = Image.new("F", (n, 1))
        im.putdata([fn(k * (i - c) ** 2) for i in range(n)])
        return im

    cxr, sxr = (
        row(math.cos, w, cx).resize((w, h), Image.Resampling.NEAREST),
        row(math.sin, w, cx).resize((w, h), Image.Resampling.NEAREST),
    )
    cyr = row(math.cos, h, cy).transpose(Image.Transpose.ROTATE_270).resize((w, h), Image.Resampling.NEAREST)
    syr = row(math.sin, h, cy).transpose(Image.Transpose.ROTATE_270).resize((w, h), Image.Resampling.NEAREST)
    plate = ImageMath.lambda_eval(lambda a: a["cx"] * a["cy"] - a["sx"] * a["sy"], cx=cxr, cy=cyr, sx=sxr, sy=syr)
    gray = plate.point(lambda v: v * 127.0 + 127.5).convert("L")
    return Image.merge("RGB", [gray, gray, gray])


def zoneplate_k(w: int, h: int) -> float:
    corner = math.hypot((w - 1) / 2, (h - 1) / 2)
    return math.pi / (2 * corner)


def _exif(orientation: int):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "imgpipe-bench"  # Make
    exif[0x0110] = "Synthetic Camera"  # Model
    exif[0x0112] = orientation
    return exif


def _generate(spec: InputSpec) -> bytes:
    from PIL import Image

    if spec.kind == "zoneplate":
        im = synth_zoneplate(spec.width, spec.height)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95, subsampling=0)
        return buf.getvalue()
    if spec.orientation == 6:
        # Draw the scene upright (portrait), then store it the way a camera held on its side does:
        # orientation 6 means "rotate 90 degrees clockwise to display", so the stored pixels are the
        # upright ones turned 90 degrees counter-clockwise (exif_transpose undoes it).
        upright = synth_photo(spec.height, spec.width, spec.seed, spec.noise)
        im = upright.transpose(Image.Transpose.ROTATE_90)
    else:
        im = synth_photo(spec.width, spec.height, spec.seed, spec.noise)
    assert im.size == (spec.width, spec.height), (im.size, spec)
    if spec.alpha:
        im.putalpha(Image.radial_gradient("L").resize(im.size, Image.Resampling.BICUBIC).point(lambda v: 255 - v // 2))
    buf = io.BytesIO()
    if spec.format == "JPEG":
        im.save(buf, "JPEG", quality=92, subsampling=2, exif=_exif(spec.orientation))
    else:
        im.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def ensure(names=None, log=print) -> dict[str, dict]:
    """Generate missing inputs; return {name: manifest entry} for the requested ones."""
    INPUT_DIR.mkdir(parents=True, exist_ok=True)
    manifest_path = INPUT_DIR / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    out = {}
    for name in names or INPUTS:
        spec = INPUTS[name]
        entry = manifest.get(name)
        if not spec.path.exists() or not entry or entry.get("file") != spec.filename:
            t0 = time.perf_counter()
            data = _generate(spec)
            tmp = spec.path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(spec.path)
            entry = {
                "file": spec.filename,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "spec": asdict(spec),
            }
            manifest[name] = entry
            manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True))
            log(f"  generated {spec.filename}: {len(data) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
        out[name] = {**entry, "path": str(spec.path)}
    return out
