"""Uploads as real clients make them, through the whole local stack: the types browsers and SDKs
declare, non-ASCII filenames (their presigned URLs, keys, records and renditions), and files
`imgpipe process` must declare so that the pipeline renders them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from imgpipe.client import ApiError, Client
from imgpipe.config import COMPLETE, FAILED, UPLOAD_PREFIX
from imgpipe.local.pipeline import LocalPipeline
from tests import corpus

# What real clients send that the API used to refuse, with the type the URL then signs.
DECLARED = {
    "": "application/octet-stream",
    "application/octet-stream": "application/octet-stream",
    "image/jpg": "image/jpeg",
    "IMAGE/JPEG": "image/jpeg",
    "image/jpeg; charset=binary": "image/jpeg",
    "image/apng": "image/apng",
    "image/x-icon": "image/x-icon",
}


@pytest.mark.parametrize(("declared", "signed"), DECLARED.items())
def test_each_type_clients_declare_gets_an_upload_url_that_takes_the_file(
    client: Client, photo: bytes, declared: str, signed: str
):
    upload = client.request_upload("photo.jpg", declared, len(photo))
    assert upload["headers"]["Content-Type"] == signed
    client.put(upload, photo)  # the returned headers are the ones the URL signed
    view = client.wait(upload["imageId"])
    assert view["status"] == COMPLETE  # the bytes are a JPEG whatever was declared


@pytest.mark.parametrize("declared", ["text/plain", "application/pdf", "image/svg+xml", "text/html"])
def test_a_declared_non_image_gets_no_upload_url(client: Client, declared: str):
    with pytest.raises(ApiError) as raised:
        client.request_upload("photo.jpg", declared, 100)
    assert (raised.value.status, raised.value.code) == (400, "UNSUPPORTED_CONTENT_TYPE")


def test_an_icon_declared_as_one_is_refused_by_its_bytes(client: Client):
    icon = corpus.save(corpus.photo(32, 32), "ICO")
    view = client.wait(client.upload("favicon.ico", icon, "image/x-icon"))
    assert view["status"] == FAILED
    assert view["error"]["code"] == "UNSUPPORTED_FORMAT"


# ---- names in any script ---------------------------------------------------------------------------
NAMES = {
    "猫の写真.jpg": "猫の写真.jpg",
    "صورة قطة.jpg": "صورة_قطة.jpg",
    "תמונה של חתול.jpg": "תמונה_של_חתול.jpg",
    "🐱 cat 🎉.jpg": "cat_.jpg",
    "😀🎉.jpg": "image.jpg",
    "a\u202egpj.exe.jpg": "a_gpj.exe.jpg",
}


@pytest.mark.parametrize(("given", "kept"), NAMES.items())
def test_a_unicode_filename_survives_the_whole_pipeline(
    stack: LocalPipeline, client: Client, photo: bytes, given: str, kept: str
):
    upload = client.request_upload(given, "image/jpeg", len(photo))
    assert upload["key"] == f"{UPLOAD_PREFIX}{upload['imageId']}/{kept}"
    client.put(upload, photo)  # the local S3 verified the presigned URL of the UTF-8 key
    view = client.wait(upload["imageId"])
    assert view["status"] == COMPLETE, view
    assert view["upload"]["filename"] == kept
    assert view["upload"]["key"] == upload["key"]
    listed = stack.client("s3").list_objects_v2(Bucket=stack.names.input_bucket, Prefix=upload["key"])
    assert [o["Key"] for o in listed["Contents"]] == [upload["key"]]
    for rendition in view["renditions"]:
        assert client.download(rendition["url"])[:2] == b"\xff\xd8"


# ---- imgpipe process ---------------------------------------------------------------------------------
def test_process_renders_mpo_avifs_and_apng_files(tmp_path: Path):
    """Python's mimetypes has no type for .mpo, .avifs or .apng; the command declares what a browser
    would (or octet-stream) and the pipeline decides by the bytes."""
    files = {
        "stereo.mpo": corpus.save(
            corpus.photo(320, 240), "MPO", save_all=True, append_images=[corpus.photo(320, 240, seed=3)]
        ),
        "sequence.avifs": corpus.animation("AVIF", (320, 240)),
        "moving.apng": corpus.animation("PNG", (320, 240)),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "imgpipe.cli", "process", *files, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in files:
        assert re.search(rf"^{re.escape(name)} -> image [0-9a-f]{{32}}: COMPLETE", result.stdout, re.M), result.stdout
