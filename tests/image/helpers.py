"""Shared helpers for the image tests."""

from __future__ import annotations

import io
import math
from dataclasses import replace

from PIL import Image, ImageChops, ImageStat

from imgpipe.config import PipelineSettings, Rendition, Watermark
from imgpipe.image.decoding import SourceInfo
from imgpipe.image.encoding import Encoded
from imgpipe.image.render import render

NO_WATERMARK = Watermark(text="")


def settings(*renditions: Rendition, watermark: Watermark = NO_WATERMARK, **changes) -> PipelineSettings:
    """Settings for a test: given renditions (default one lossless PNG up to 4096 px), no watermark."""
    base = PipelineSettings(renditions=renditions or (Rendition("out", 4096, "png"),), watermark=watermark)
    return replace(base, **changes)


def render_one(data: bytes, fmt: str = "png", edge: int = 4096, **changes) -> tuple[SourceInfo, Encoded, Image.Image]:
    """Render one rendition and reopen it."""
    info, encoded = render(data, settings(Rendition("out", edge, fmt, 90), **changes))
    (out,) = encoded
    image = Image.open(io.BytesIO(out.data))
    image.load()
    return info, out, image


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def psnr(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return float("inf") if mse == 0 else 10 * math.log10(255 * 255 / mse)


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def mean_colour(im: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    return tuple(round(v) for v in ImageStat.Stat(im.convert("RGB").crop(box)).mean)
