"""What the browser tests share: where things are, deadlines, a running ``imgpipe serve``, test images."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from imgpipe.paths import checkout_root
from tests.serve_support import ServeProcess

ROOT = checkout_root()
ARTIFACTS = ROOT / "tests" / "artifacts"
OTHER_ORIGIN_DIR = Path(__file__).parent / "other_origin"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_MISSING = "Chromium is not installed: `apt-get install chromium` (or .ci/run) runs the browser tests"
START_DEADLINE_S = 60
RESULT_DEADLINE_MS = 90_000  # one image end to end takes about a second; this is a deadline, not a target


def require_chromium() -> str:
    """Debian's Chromium, or a skip of the calling test module.  Every module skips from this one line,
    so a run without Chromium reports the browser tier as one folded line that says how to get it."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip(CHROMIUM_MISSING, allow_module_level=True)
    return path


@dataclass
class Served:
    """A running ``imgpipe serve`` and the API key it asks for."""

    server: ServeProcess
    api_key: str | None

    @property
    def api_url(self) -> str:
        return self.server.api_url


def jpeg_bytes(width: int = 1200, height: int = 800) -> bytes:
    """A landscape (or portrait) JPEG bigger than the small rendition."""
    image = Image.radial_gradient("L").resize((width, height))
    image = Image.merge("RGB", (image, Image.linear_gradient("L").resize((width, height)), image.rotate(90)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
