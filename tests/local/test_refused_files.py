"""Every file the image core refuses is refused the same way through the whole pipeline: uploaded
through a presigned URL, run through the state machine, and recorded FAILED with its code."""

from __future__ import annotations

import pytest

from imgpipe.client import ApiError, Client
from tests.corpus import refused_files

CASES = refused_files()


@pytest.fixture(scope="module")
def outcomes(client: Client) -> dict[str, dict]:
    """Upload every case at once (declared as JPEG: the declared type is only a hint), then
    collect each image's final state."""
    ids = {}
    for name, data, _ in CASES:
        try:
            ids[name] = client.upload(f"{name}.jpg", data, "image/jpeg")
        except ApiError as exc:  # refused before an upload URL is issued (e.g. an empty file)
            ids[name] = exc
    return {
        name: image_id if isinstance(image_id, ApiError) else client.wait(image_id, deadline_s=60)
        for name, image_id in ids.items()
    }


@pytest.mark.parametrize(("name", "data", "code"), CASES, ids=[name for name, _, _ in CASES])
def test_refused_file_ends_failed_with_its_code(outcomes: dict, name: str, data: bytes, code: str):
    view = outcomes[name]
    if isinstance(view, ApiError):
        assert len(data) == 0 and view.code == "INVALID_SIZE"
        return
    assert view["status"] == "FAILED", view
    assert view["error"]["code"] == code, view["error"]
    assert view["error"]["message"]
    assert "renditions" not in view
