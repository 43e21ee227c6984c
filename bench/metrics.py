"""Image quality metrics with Pillow only (numpy is not a dependency of the project).

* ``psnr_luma``: PSNR of the Rec.601 luma (Pillow's ``convert("L")``), 8-bit, peak 255.  Exact: the
  MSE comes from the histogram of the absolute luma difference.
* ``ssim_block``: SSIM on luma over non-overlapping 8x8 blocks (the usual constants), averaged.
  "SSIM-ish": the textbook SSIM uses overlapping 11x11 Gaussian windows; block SSIM tracks it closely
  for ranking encoder settings, which is all it is used for here.
* ``alias_rms``: on a zone plate rendition, the standard deviation of luma in the region whose source
  frequency is above the rendition's Nyquist limit (x1.3, past the Lanczos-3 transition band).  A
  perfect low-pass leaves that region flat grey (0); aliasing shows as moire rings there.
"""

from __future__ import annotations

import io
import math

from PIL import Image, ImageChops, ImageDraw, ImageMath, ImageStat


def open_rgb(data_or_image) -> Image.Image:
    if isinstance(data_or_image, Image.Image):
        im = data_or_image
    else:
        im = Image.open(io.BytesIO(data_or_image))
        im.load()
    if im.mode == "RGBA":
        flat = Image.new("RGB", im.size, (255, 255, 255))
        flat.paste(im, mask=im.getchannel("A"))
        return flat
    return im if im.mode == "RGB" else im.convert("RGB")


def mse_luma(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        raise ValueError(f"size mismatch {a.size} vs {b.size}")
    diff = ImageChops.difference(open_rgb(a).convert("L"), open_rgb(b).convert("L"))
    hist = diff.histogram()
    n = a.size[0] * a.size[1]
    return sum(count * i * i for i, count in enumerate(hist)) / n


def psnr_from_mse(mse: float) -> float:
    return math.inf if mse == 0 else 10 * math.log10(255.0 * 255.0 / mse)


def psnr_luma(a: Image.Image, b: Image.Image) -> float:
    return psnr_from_mse(mse_luma(a, b))


def ssim_block(a: Image.Image, b: Image.Image, block: int = 8) -> float:
    if a.size != b.size:
        raise ValueError(f"size mismatch {a.size} vs {b.size}")
    w, h = (a.size[0] // block) * block, (a.size[1] // block) * block
    x = open_rgb(a).convert("L").crop((0, 0, w, h)).convert("F")
    y = open_rgb(b).convert("L").crop((0, 0, w, h)).convert("F")
    xx = ImageMath.lambda_eval(lambda m: m["x"] * m["x"], x=x)
    yy = ImageMath.lambda_eval(lambda m: m["y"] * m["y"], y=y)
    xy = ImageMath.lambda_eval(lambda m: m["x"] * m["y"], x=x, y=y)
    mx, my, exx, eyy, exy = (im.reduce(block) for im in (x, y, xx, yy, xy))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim = ImageMath.lambda_eval(
        lambda m: ((m["mx"] * m["my"] * 2 + c1) * ((m["exy"] - m["mx"] * m["my"]) * 2 + c2))
        / ((m["mx"] * m["mx"] + m["my"] * m["my"] + c1)
           * ((m["exx"] - m["mx"] * m["mx"]) + (m["eyy"] - m["my"] * m["my"]) + c2)),
        mx=mx, my=my, exx=exx, eyy=eyy, exy=exy,
    )  # fmt: skip
    # Not ImageStat: on mode "F" it works from a 256-bin histogram.  The map is small (1/64th).
    values = ssim.getdata()
    return math.fsum(values) / len(values)


def alias_rms(rendition: Image.Image, source_size: tuple[int, int], k: float, margin: float = 1.3) -> float:
    """Luma std-dev where the zone plate's source frequency exceeds ``margin`` x the rendition Nyquist.

    The plate is cos(k r^2) (r in source pixels about the centre): local frequency k r / pi cycles
    per source pixel.  A rendition at scale s has Nyquist 0.5 s cycles per source pixel, so the
    stop band is r > margin * 0.5 * s * pi / k source pixels, i.e. r_dst = r * s.
    """
    w, h = rendition.size
    s = w / source_size[0]
    r_dst = margin * 0.5 * s * math.pi / k * s
    cx, cy = (w - 1) / 2, (h - 1) / 2
    mask = Image.new("L", (w, h), 255)
    ImageDraw.Draw(mask).ellipse((cx - r_dst, cy - r_dst, cx + r_dst, cy + r_dst), fill=0)
    if not mask.getbbox():
        return 0.0
    return ImageStat.Stat(open_rgb(rendition).convert("L"), mask).stddev[0]
