"""GET /upload-url: a presigned PUT for one new image, and its AWAITING_UPLOAD record."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from imgpipe.config import AWAITING_UPLOAD, UPLOAD_PREFIX
from imgpipe.contracts import utc_now
from imgpipe.uploads import UploadRefused, safe_filename, upload_content_type

from .logic import Api, BadRequest

AWAITING_RECORD_TTL = 24 * 3600  # an upload URL that was never used leaves no record behind
_SIZE = re.compile(r"-?[0-9]+")  # a whole number; its sign and range are checked apart


def sanitise_filename(name: str | None) -> str:
    """The name kept in the record and the key: letters and digits of any script (imgpipe.uploads)."""
    try:
        return safe_filename(name)
    except UploadRefused as exc:
        raise BadRequest(exc.code, exc.message) from None


def declared_content_type(declared: str | None) -> str:
    """The type the upload URL signs: normalised; any image/* or octet-stream (the bytes are sniffed
    later), never a declared non-image (imgpipe.uploads)."""
    try:
        return upload_content_type(declared)
    except UploadRefused as exc:
        raise BadRequest(exc.code, exc.message) from None


def declared_size(size: str | None, max_bytes: int) -> int:
    """The upload's length as the client declared it: a whole, positive number of bytes, at most
    the byte limit.  Each way of getting it wrong has its own message."""
    if size is None or size == "":
        raise BadRequest("INVALID_SIZE", "size (the upload's length in bytes) is required")
    shown = repr(size) if len(size) <= 24 else f"{size[:20]!r}… ({len(size)} characters)"
    if not _SIZE.fullmatch(size):
        raise BadRequest("INVALID_SIZE", f"size must be a whole number of bytes, not {shown}")
    if size.startswith("-") or not size.strip("0"):
        raise BadRequest("INVALID_SIZE", f"size must be positive (at least 1 byte), not {shown}")
    if len(size) > 15:  # no upload is a petabyte; and int() of thousands of digits is work for nothing
        raise BadRequest("INVALID_SIZE", f"size must be a length in bytes, not {shown}")
    length = int(size)
    if length > max_bytes:
        raise BadRequest("IMAGE_TOO_LARGE", f"size must be at most {max_bytes} bytes (the upload limit), not {length}")
    return length


def issue_upload_url(
    api: Api, filename: str | None, content_type: str | None, size: str | None, *, owner: str
) -> dict[str, Any]:
    safe_name = sanitise_filename(filename)
    content_type = declared_content_type(content_type)
    length = declared_size(size, api.settings.limits.max_bytes)
    image_id = uuid.uuid4().hex
    key = f"{UPLOAD_PREFIX}{image_id}/{safe_name}"
    expires_in = api.settings.upload_url_ttl
    url = api.presigner.presign_put(api.input_bucket, key, content_type, length, expires_in)
    now = utc_now()
    api.images.create_awaiting(
        {
            "imageId": image_id,
            "owner": owner,
            "status": AWAITING_UPLOAD,
            "upload": {"key": key, "filename": safe_name, "declaredType": content_type, "declaredSize": length},
            "createdAt": now,
            "updatedAt": now,
            "ttl": int(time.time()) + AWAITING_RECORD_TTL,
        }
    )
    return {
        "imageId": image_id,
        "key": key,
        "uploadUrl": url,
        "method": "PUT",
        "headers": {"Content-Type": content_type, "If-None-Match": "*"},
        "expiresIn": expires_in,
    }
