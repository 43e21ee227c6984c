"""One local stack for every test in this package: starting it costs about a second; the state
machine, buckets and table are shared, and each test works on its own image ids."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from imgpipe.client import Client
from imgpipe.local.pipeline import LocalPipeline


@pytest.fixture(scope="package")
def stack() -> LocalPipeline:
    with LocalPipeline(api_port=0, aws_port=0) as running:
        yield running


@pytest.fixture(scope="package")
def client(stack: LocalPipeline) -> Client:
    return Client(stack.api_url)


@pytest.fixture(scope="package")
def photo() -> bytes:
    """A small photographic-ish JPEG, landscape, bigger than the largest rendition."""
    image = Image.radial_gradient("L").resize((1800, 1200)).convert("RGB")
    image = Image.merge(
        "RGB", (image.getchannel(0), Image.linear_gradient("L").resize((1800, 1200)), image.getchannel(2))
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def poll(condition: Callable[[], Any], deadline_s: float = 30, interval_s: float = 0.05) -> Any:
    """Return the first truthy value of condition(), or fail when the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {deadline_s} s")
        time.sleep(interval_s)
