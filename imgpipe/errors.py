"""Errors that cross the Lambda → Step Functions boundary.

Step Functions matches a failed Lambda by its ``errorType``, which the Python runtime sets to the
exception's class name.  So the class names below *are* the public error codes: the state
machine's Retry/Catch, the FAILED record and the API all speak the same words with no mapping
table in between (docs/decisions.md).
"""

from __future__ import annotations


class TransientError(Exception):
    """Retrying may help (throttling, a 5xx, a dropped connection).  Retried by the state machine."""


class PermanentError(Exception):
    """Retrying cannot help: the input is bad.  Goes straight to the failure branch."""

    @property
    def code(self) -> str:
        return type(self).__name__


class NOT_AN_IMAGE(PermanentError):
    """The bytes are not an image of any kind we can recognise."""


class UNSUPPORTED_FORMAT(PermanentError):
    """A recognisable format that is not on the allow-list (SVG, PDF, PSD, …)."""


class CORRUPT_IMAGE(PermanentError):
    """An allowed format whose data cannot be decoded (truncated, malformed)."""


class IMAGE_TOO_LARGE(PermanentError):
    """Over the byte, pixel, edge or frame limit; refused before decoding."""


class SOURCE_MISSING(PermanentError):
    """The uploaded object is gone (deleted or never written) by the time the step ran."""


class INVALID_UPLOAD_KEY(PermanentError):
    """The object's key is not one the API issues (uploads/<32 hex id>/<name>)."""


class DELETED_WHILE_PROCESSING(Exception):
    """The image was deleted while its execution ran: the step discarded what it wrote and the
    execution stops.  Not a PermanentError: no record shows it (the tombstone stays), only the
    execution's history does."""


PERMANENT_CODES = tuple(cls.__name__ for cls in PermanentError.__subclasses__())


def message_from_cause(cause: str | None) -> str:
    """The human message inside a Step Functions ``Cause``: a Lambda error's ``errorMessage`` when
    the cause is its JSON payload, else the cause as it is (timeouts, service errors)."""
    import json

    if not cause:
        return ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return cause


# What a caller is told about a FAILED image: one fixed message per public code.  The record keeps
# Step Functions' raw Error and Cause (bucket names, ARNs, exception text) for operators, who read
# them with `imgpipe history` and in the execution logs; none of it reaches a response or an event.
# Every error that is not the image's fault (retries exhausted, a crash, a timeout, a bug) is
# INTERNAL_ERROR: the client's remedy is the same, and the names are the implementation's.
PUBLIC_ERRORS = {
    "NOT_AN_IMAGE": "The uploaded file is not an image.",
    "UNSUPPORTED_FORMAT": "The image is in a format this service does not accept.",
    "CORRUPT_IMAGE": "The image data is damaged or truncated and cannot be decoded.",
    "IMAGE_TOO_LARGE": "The image is over the size, pixel, edge or frame limit.",
    "SOURCE_MISSING": "The uploaded file was gone before it could be processed.",
    "INVALID_UPLOAD_KEY": "The file was not uploaded to a key this API issued.",
    "PROCESSING_TIMEOUT": "processing did not finish within 5 minutes; request a new upload URL and try again",
    "INTERNAL_ERROR": "The image could not be processed because of an internal error; "
    "request a new upload URL and try again.",
}


def public_error(code: str | None) -> dict[str, str]:
    """The public code and its fixed message for a recorded error code (the API's view, the events)."""
    public = code if code is not None and code in PUBLIC_ERRORS else "INTERNAL_ERROR"
    return {"code": public, "message": PUBLIC_ERRORS[public]}
