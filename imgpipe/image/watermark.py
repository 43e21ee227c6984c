"""Text and/or logo watermark, scaled to each rendition and legible on any background.

* The text is drawn in white with a dark outline (stroke ~7 % of the text height) with Pillow's
  bundled FreeType font (``ImageFont.load_default(size=...)``): readable on light, dark and busy
  backgrounds, and no font file to ship or license.
* The text height is ``size`` × the rendition's short edge; a logo (PNG with alpha) is drawn at
  twice the text height, left of the text, or alone if the text is empty.
* ``anchor`` (9 positions) and ``margin`` (fraction of the short edge) place a single stamp; a
  stamp that would not fit between the margins is shrunk until it does.
* ``tile`` repeats the stamp along 30° diagonals over the whole image instead.
* ``opacity`` scales the stamp's alpha; renditions whose long edge is below ``min_edge`` are left
  unmarked.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from imgpipe.config import Watermark

TILE_ANGLE = 30
MIN_TEXT_PX = 8


@lru_cache(maxsize=32)
def _font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow bundles a FreeType font (load_default with a size); no font file to ship or license.
    return ImageFont.load_default(size=px)


def _position(anchor: str, box: tuple[int, int], canvas: tuple[int, int], margin: int) -> tuple[int, int]:
    bw, bh = box
    cw, ch = canvas
    vertical, _, horizontal = anchor.partition("-") if "-" in anchor else (anchor, "", anchor)
    x = {"left": margin, "right": cw - bw - margin}.get(horizontal, (cw - bw) // 2)
    y = {"top": margin, "bottom": ch - bh - margin}.get(vertical, (ch - bh) // 2)
    return x, y


def _with_opacity(stamp: Image.Image, opacity: float) -> Image.Image:
    if opacity < 1:
        stamp.putalpha(stamp.getchannel("A").point(lambda a: round(a * opacity)))
    return stamp


@lru_cache(maxsize=64)
def _text_stamp(text: str, px: int, opacity: float) -> Image.Image | None:
    """White text with a dark outline: readable on light, dark and busy backgrounds alike."""
    font = _font(px)
    stroke = max(1, round(px / 14))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=stroke)
    if right <= left or bottom <= top:
        return None  # whitespace only
    stamp = Image.new("RGBA", (math.ceil(right - left), math.ceil(bottom - top)), (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text(
        (-left, -top), text, font=font, fill=(255, 255, 255, 255),
        stroke_width=stroke, stroke_fill=(20, 20, 20, 255),
    )  # fmt: skip
    return _with_opacity(stamp, opacity)


def _logo_stamp(logo: Image.Image, height: int, opacity: float) -> Image.Image:
    logo = logo.convert("RGBA")
    width = max(1, round(logo.width * height / logo.height))
    # Image.resize premultiplies RGBA, so transparent edges do not bleed dark fringes.
    logo = logo.resize((width, max(1, height)), Image.Resampling.LANCZOS)
    return _with_opacity(logo, opacity)


def build_stamp(text: str, logo: Image.Image | None, px: int, opacity: float) -> Image.Image | None:
    """The watermark as one RGBA image: [logo] [text], vertically centred on each other."""
    text_stamp = _text_stamp(text, px, opacity) if text.strip() else None
    if logo is None:
        return text_stamp.copy() if text_stamp is not None else None
    logo_stamp = _logo_stamp(logo, px * 2, opacity)
    if text_stamp is None:
        return logo_stamp
    gap = max(1, px // 3)
    combined = Image.new(
        "RGBA", (logo_stamp.width + gap + text_stamp.width, max(logo_stamp.height, text_stamp.height)), (0, 0, 0, 0)
    )
    combined.paste(logo_stamp, (0, (combined.height - logo_stamp.height) // 2))
    combined.paste(text_stamp, (logo_stamp.width + gap, (combined.height - text_stamp.height) // 2))
    return combined


def composite(out: Image.Image, stamp: Image.Image, x: int, y: int) -> None:
    """Blend ``stamp`` over ``out`` at (x, y), in place, clipped to the canvas.

    RGBA targets get a true "over" composite (alpha_composite needs a non-negative, in-bounds
    destination, hence the clipping); RGB targets a paste through the stamp's alpha.
    """
    left, top = max(0, x), max(0, y)
    right, bottom = min(out.width, x + stamp.width), min(out.height, y + stamp.height)
    if right <= left or bottom <= top:
        return
    clipped = (left, top, right, bottom) != (x, y, x + stamp.width, y + stamp.height)
    piece = stamp.crop((left - x, top - y, right - x, bottom - y)) if clipped else stamp
    if out.mode == "RGBA":
        out.alpha_composite(piece, (left, top))
    else:
        out.paste(piece, (left, top), piece)


def _fitted(settings: Watermark, logo: Image.Image | None, px: int, room: tuple[int, int]) -> Image.Image | None:
    """The stamp at ``px``, or re-drawn smaller (then scaled, as a last resort) to fit ``room``."""
    stamp = build_stamp(settings.text, logo, px, settings.opacity)
    if stamp is None:
        return None
    room_w, room_h = max(1, room[0]), max(1, room[1])
    if stamp.width <= room_w and stamp.height <= room_h:
        return stamp
    scale = min(room_w / stamp.width, room_h / stamp.height)
    smaller = max(MIN_TEXT_PX, math.floor(px * scale))
    if smaller < px:
        stamp = build_stamp(settings.text, logo, smaller, settings.opacity) or stamp
    if stamp.width > room_w or stamp.height > room_h:
        scale = min(room_w / stamp.width, room_h / stamp.height)
        stamp = stamp.resize(
            (max(1, int(stamp.width * scale)), max(1, int(stamp.height * scale))), Image.Resampling.LANCZOS
        )
    return stamp


def apply(im: Image.Image, settings: Watermark, logo: Image.Image | None = None) -> Image.Image:
    """Return ``im`` watermarked (a new image); ``im`` itself when nothing is to be drawn.

    Nothing is drawn when there is neither text nor logo, or when the rendition's long edge is
    below ``settings.min_edge``.
    """
    if not (settings.text.strip() or logo is not None) or max(im.size) < settings.min_edge:
        return im
    short = min(im.size)
    px = max(MIN_TEXT_PX, round(short * settings.size))
    margin = round(short * settings.margin)
    if settings.tile:
        stamp = _fitted(settings, logo, px, im.size)
    else:
        stamp = _fitted(settings, logo, px, (im.width - 2 * margin, im.height - 2 * margin))
    if stamp is None:
        return im
    out = im.copy()
    if settings.tile:
        _tile(out, stamp)
    else:
        x, y = _position(settings.anchor, stamp.size, out.size, margin)
        composite(out, stamp, x, y)  # only the stamp's box is touched
    return out


def _tile(out: Image.Image, stamp: Image.Image) -> None:
    """Repeat the stamp, rotated, on a staggered grid of lines rising at TILE_ANGLE degrees."""
    # Rotate premultiplied so the transparent surround does not darken the antialiased edges.
    rotated = stamp.convert("RGBa").rotate(TILE_ANGLE, expand=True, resample=Image.Resampling.BICUBIC).convert("RGBA")
    along = stamp.width + max(2 * stamp.height, stamp.width // 2)  # text to text on one line
    across = 3 * stamp.height  # line to line
    cos, sin = math.cos(math.radians(TILE_ANGLE)), math.sin(math.radians(TILE_ANGLE))
    cx, cy = out.width / 2, out.height / 2
    reach = math.hypot(out.width, out.height) / 2 + max(rotated.size)
    lines = math.ceil(reach / across)
    steps = math.ceil(reach / along) + 1
    for j in range(-lines, lines + 1):
        shift = (j % 2) * along / 2
        for i in range(-steps, steps + 1):
            u, v = i * along + shift, j * across
            x = cx + u * cos + v * sin  # (u, v) in the rotated frame → canvas (y grows downwards)
            y = cy - u * sin + v * cos
            composite(out, rotated, round(x - rotated.width / 2), round(y - rotated.height / 2))
