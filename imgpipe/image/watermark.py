"""Text (and optional logo) watermark, scaled to each rendition and legible on any background."""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from imgpipe.config import Watermark


@lru_cache(maxsize=32)
def _font(px: int) -> ImageFont.FreeTypeFont:
    # Pillow bundles a FreeType font (load_default with a size); no font file to ship or license.
    return ImageFont.load_default(size=px)


def _position(anchor: str, box: tuple[int, int], canvas: tuple[int, int], margin: int) -> tuple[int, int]:
    bw, bh = box
    cw, ch = canvas
    vertical, _, horizontal = anchor.partition("-") if "-" in anchor else (anchor, "", anchor)
    x = {"left": margin, "right": cw - bw - margin}.get(horizontal, (cw - bw) // 2)
    y = {"top": margin, "bottom": ch - bh - margin}.get(vertical, (ch - bh) // 2)
    return x, y


def _text_stamp(text: str, px: int, opacity: float) -> Image.Image:
    """White text with a dark outline: readable on light, dark and busy backgrounds alike."""
    font = _font(px)
    stroke = max(1, px // 14)
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    stamp = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text(
        (-left, -top), text, font=font, fill=(255, 255, 255, 255),
        stroke_width=stroke, stroke_fill=(0, 0, 0, 255),
    )  # fmt: skip
    if opacity < 1:
        alpha = stamp.getchannel("A").point(lambda a: round(a * opacity))
        stamp.putalpha(alpha)
    return stamp


def apply(im: Image.Image, settings: Watermark, logo: Image.Image | None = None) -> Image.Image:
    """Return ``im`` watermarked; small renditions (long edge < min_edge) are returned unchanged."""
    if not settings.enabled or max(im.size) < settings.min_edge:
        return im
    short = min(im.size)
    px = max(8, round(short * settings.size))
    margin = round(short * settings.margin)
    stamp = _text_stamp(settings.text, px, settings.opacity) if settings.text else None
    if logo is not None:
        stamp = _with_logo(stamp, logo, px, settings.opacity)
    if stamp is None:
        return im
    out = im.copy()
    if settings.tile:
        _tile(out, stamp)
    else:
        x, y = _position(settings.anchor, stamp.size, out.size, margin)
        # Composite only over the stamp's box: the rest of the image is untouched.
        out.alpha_composite(stamp, (x, y)) if out.mode == "RGBA" else out.paste(stamp, (x, y), stamp)
    return out


def _with_logo(stamp: Image.Image | None, logo: Image.Image, px: int, opacity: float) -> Image.Image:
    logo = logo.convert("RGBA")
    height = px * 2
    logo = logo.resize((max(1, round(logo.width * height / logo.height)), height), Image.Resampling.LANCZOS)
    if opacity < 1:
        logo.putalpha(logo.getchannel("A").point(lambda a: round(a * opacity)))
    if stamp is None:
        return logo
    gap = px // 3
    combined = Image.new("RGBA", (logo.width + gap + stamp.width, max(logo.height, stamp.height)), (0, 0, 0, 0))
    combined.paste(logo, (0, (combined.height - logo.height) // 2))
    combined.paste(stamp, (logo.width + gap, (combined.height - stamp.height) // 2))
    return combined


def _tile(out: Image.Image, stamp: Image.Image) -> None:
    rotated = stamp.rotate(30, expand=True, resample=Image.Resampling.BICUBIC)
    step_x, step_y = rotated.width * 2, rotated.height * 3
    for row, y in enumerate(range(-rotated.height, out.height, step_y)):
        offset = (row % 2) * rotated.width
        for x in range(-rotated.width + offset, out.width, step_x):
            if out.mode == "RGBA":
                out.alpha_composite(rotated, (max(0, x), max(0, y))) if x >= 0 and y >= 0 else out.paste(rotated, (x, y), rotated)
            else:
                out.paste(rotated, (x, y), rotated)
