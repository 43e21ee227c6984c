"""Structural pre-scans over the raw bytes: no pixel is decoded here.

Pillow's ``Image.open`` already reads only headers, which gives the size every limit is checked
against.  These scans add what a header parse does not: the frame count and total duration of
animations (without decoding any frame), the compressed-metadata bombs of PNG (zTXt/iTXt/iCCP
chunks that inflate to gigabytes), and structure-count bombs (millions of tiny chunks or
progressive scans that cost CPU out of proportion to the file size).  Each scan is linear in the
file size with a small, capped number of Python-level steps.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from imgpipe.config import Limits
from imgpipe.errors import CORRUPT_IMAGE, IMAGE_TOO_LARGE

# Compressed PNG metadata (zTXt, iTXt, iCCP) may inflate to at most this much per chunk and in
# total.  Real profiles and XMP packets are well under a megabyte.
MAX_METADATA_CHUNK = 1 << 20
MAX_METADATA_TOTAL = 4 << 20
# Structural step caps: far above what any real encoder writes, low enough to bound the scan.
MAX_PNG_CHUNKS = 100_000
MAX_GIF_BLOCKS = 400_000
MAX_JPEG_SCANS = 256


@dataclass(frozen=True)
class Probe:
    frames: int | None = None  # None: this scan does not count frames for the format
    duration_ms: int | None = None  # total, for animations


def probe(data: bytes, fmt: str, limits: Limits) -> Probe:
    if fmt == "PNG":
        return _png(data, limits)
    if fmt == "GIF":
        return _gif(data, limits)
    if fmt == "WEBP":
        return _webp(data, limits)
    if fmt == "JPEG":
        return _jpeg(data)
    if fmt == "AVIF":
        return Probe(duration_ms=_iso_movie_duration(data))
    return Probe()


def _too_many_frames(frames: int, limits: Limits) -> IMAGE_TOO_LARGE:
    return IMAGE_TOO_LARGE(f"The animation has {frames} frames or more; the limit is {limits.max_frames}")


# ---- PNG ----------------------------------------------------------------------------------------
def _inflated_size(payload: bytes, cap: int) -> int:
    """Bytes ``payload`` inflates to, stopping at ``cap + 1``; -1 if it is not zlib data."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(payload, cap + 1)
    except zlib.error:
        return -1
    return len(out)


def _png(data: bytes, limits: Limits) -> Probe:
    pos, chunks = 8, 0
    frames: int | None = None
    fctl = 0
    duration = 0.0
    metadata = 0
    size = len(data)
    while pos + 8 <= size:
        length = int.from_bytes(data[pos : pos + 4], "big")
        ctype = data[pos + 4 : pos + 8]
        start, end = pos + 8, pos + 8 + length
        if length > 0x7FFFFFFF or end > size:
            break  # truncated or malformed: the decoder reports it as such
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise CORRUPT_IMAGE("The PNG file is malformed (far too many chunks)")
        if ctype == b"acTL" and length >= 8:
            frames = int.from_bytes(data[start : start + 4], "big")
            if frames > limits.max_frames:
                raise _too_many_frames(frames, limits)
        elif ctype == b"fcTL" and length >= 26:
            fctl += 1
            num = int.from_bytes(data[start + 20 : start + 22], "big")
            den = int.from_bytes(data[start + 22 : start + 24], "big") or 100
            duration += num * 1000 / den
        elif ctype in (b"zTXt", b"iTXt", b"iCCP"):
            payload = _compressed_payload(ctype, data[start:end])
            if payload is None:
                metadata += length
            else:
                inflated = _inflated_size(payload, MAX_METADATA_CHUNK)
                if inflated > MAX_METADATA_CHUNK:
                    raise IMAGE_TOO_LARGE("The PNG file's metadata expands to an unreasonable size")
                metadata += max(inflated, 0)
        elif ctype in (b"tEXt", b"eXIf"):
            metadata += length
        if metadata > MAX_METADATA_TOTAL:
            raise IMAGE_TOO_LARGE("The PNG file carries an unreasonable amount of metadata")
        if ctype == b"IEND":
            break
        pos = end + 4  # skip the CRC
    if frames is None or frames <= 1:
        return Probe(frames=1)
    return Probe(frames=frames, duration_ms=round(duration) if fctl else None)


def _compressed_payload(ctype: bytes, body: bytes) -> bytes | None:
    """The zlib stream inside a zTXt/iCCP/iTXt chunk, or None if it holds none."""
    nul = body.find(b"\x00")
    if nul < 0:
        return None
    if ctype in (b"zTXt", b"iCCP"):  # keyword\0 method(1) data
        return body[nul + 2 :]
    # iTXt: keyword\0 flag(1) method(1) language\0 translated\0 text
    if nul + 2 >= len(body) or body[nul + 1] != 1:
        return None  # uncompressed iTXt: counted by its length
    rest = body[nul + 3 :]
    lang_end = rest.find(b"\x00")
    if lang_end < 0:
        return None
    trans_end = rest.find(b"\x00", lang_end + 1)
    if trans_end < 0:
        return None
    return rest[trans_end + 1 :]


# ---- GIF ----------------------------------------------------------------------------------------
def _gif(data: bytes, limits: Limits) -> Probe:
    size = len(data)
    if size < 13:
        return Probe()
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    frames, duration, delay, steps = 0, 0, 0, 0

    def skip_sub_blocks(p: int) -> int:
        nonlocal steps
        while p < size:
            n = data[p]
            steps += 1
            if steps > MAX_GIF_BLOCKS:
                raise CORRUPT_IMAGE("The GIF file is malformed (far too many blocks)")
            p += 1 + n
            if n == 0:
                break
        return p

    while pos < size:
        introducer = data[pos]
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension
            if pos + 1 >= size:
                break
            label = data[pos + 1]
            if label == 0xF9 and pos + 6 < size and data[pos + 2] == 4:
                delay = int.from_bytes(data[pos + 4 : pos + 6], "little")
            pos = skip_sub_blocks(pos + 2)
        elif introducer == 0x2C:  # image descriptor
            frames += 1
            if frames > limits.max_frames:
                raise _too_many_frames(frames, limits)
            duration += delay * 10
            delay = 0
            if pos + 10 > size:
                break
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)  # after the LZW minimum code size byte
        else:
            break  # garbage after the last frame; Pillow decides whether frame 0 is readable
    frames = max(frames, 1)
    return Probe(frames=frames, duration_ms=duration if frames > 1 else None)


# ---- WebP ---------------------------------------------------------------------------------------
def _webp(data: bytes, limits: Limits) -> Probe:
    pos, size = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    frames, duration, chunks = 0, 0, 0
    while pos + 8 <= size:
        fourcc = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        start = pos + 8
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise CORRUPT_IMAGE("The WebP file is malformed (far too many chunks)")
        if fourcc == b"ANMF" and length >= 16:
            frames += 1
            if frames > limits.max_frames:
                raise _too_many_frames(frames, limits)
            duration += int.from_bytes(data[start + 12 : start + 15], "little")
        pos = start + length + (length & 1)
    if frames <= 1:
        return Probe(frames=1)
    return Probe(frames=frames, duration_ms=duration)


# ---- JPEG ---------------------------------------------------------------------------------------
def _jpeg(data: bytes) -> Probe:
    # 0xFFDA only ever appears as a marker: entropy-coded data stuffs every 0xFF with 0x00.
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise CORRUPT_IMAGE("The JPEG file is malformed (far too many scans)")
    return Probe()


# ---- AVIF image sequences -----------------------------------------------------------------------
def _iso_movie_duration(data: bytes) -> int | None:
    """Total duration of an image sequence from its track's ``mdhd`` box (or the ``mvhd``, which
    looping files mark as unknown): libavif reports durations only per decoded frame."""
    for box in (b"mdhd", b"mvhd"):
        at = data.find(box, 0, 1 << 20)
        if at < 4 or at + 36 > len(data):
            continue
        if data[at + 4] == 1:  # version 1: 64-bit times
            timescale = int.from_bytes(data[at + 24 : at + 28], "big")
            duration = int.from_bytes(data[at + 28 : at + 36], "big")
            unknown = 0xFFFFFFFFFFFFFFFF
        else:
            timescale = int.from_bytes(data[at + 16 : at + 20], "big")
            duration = int.from_bytes(data[at + 20 : at + 24], "big")
            unknown = 0xFFFFFFFF
        if timescale and 0 < duration < unknown:
            return round(duration * 1000 / timescale)
    return None
