"""How every adapter reaches AWS: boto3 clients made one way (lazily, botocore's standard retries), and
what still fails after those retries classified as transient (the state machine retries it) or not."""

from __future__ import annotations

from typing import Any, Literal

from imgpipe.errors import TransientError

_TRANSIENT_CODES = {
    "ThrottlingException",
    "Throttling",
    "SlowDown",
    "RequestTimeout",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "InternalError",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
}


# The services the adapters call (a Literal, so boto3-stubs can pick each client's overload).
AwsService = Literal["s3", "dynamodb", "events", "cloudfront", "stepfunctions", "logs"]


def aws_client(service: AwsService, **options: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 3}, **options))


def classify(exc: Exception) -> Exception:
    """Map a botocore failure to our error vocabulary; other exceptions pass through."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return TransientError(f"network error talking to AWS: {exc}")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientError(f"{code or status}: {exc}")
    return exc
