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
