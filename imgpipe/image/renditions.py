"""The resize step's image work in one call: an original's bytes → its facts and its renditions.

The order is the security story (docs/image-handling.md):

1. byte limit, then ``sniff`` names exactly one allowed format from the bytes;
2. ``probe`` scans the container (frames, compressed-metadata bombs) without decoding pixels;
3. ``Image.open(formats=[that format])`` parses the header only; size, pixel, edge and frame
   limits are checked against it (``source.open_checked``);
4. only then is the first frame decoded (JPEG: straight at 1/2 scale when that is safe);
5. colour is converted to 8-bit sRGB, all metadata dropped (``decoding.decode``);
6. the renditions are resampled (largest first, smaller ones cascaded from larger ones) and the
   EXIF orientation applied to them (``cascade.resize_all``).

The rest of the image core: ``intermediate`` (the lossless hand-off to the watermark step),
``watermark``, ``encoding`` (the output formats), ``allocator`` (glibc tuning); ``render`` runs it
all in one process.
"""

from __future__ import annotations

from PIL import Image

from imgpipe.config import PipelineSettings, Rendition
from imgpipe.image.allocator import keep_freed_memory
from imgpipe.image.cascade import resize_all
from imgpipe.image.decoding import SourceInfo, decode, source_info
from imgpipe.image.exif import COPYRIGHT_KEY
from imgpipe.image.source import open_checked


def resize(data: bytes, settings: PipelineSettings) -> tuple[SourceInfo, list[tuple[Rendition, Image.Image]]]:
    keep_freed_memory()
    source = open_checked(data, settings.limits)
    largest = max(r.long_edge for r in settings.renditions)
    decoded = decode(source, largest, settings.limits, orient=False)
    info = source_info(source, decoded, data)
    frame = decoded.image
    if settings.keep_copyright and decoded.copyright:
        frame.info[COPYRIGHT_KEY] = decoded.copyright  # resize(), convert() and transpose() copy info
    return info, resize_all(frame, settings.renditions, decoded.transpose)
