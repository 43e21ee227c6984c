"""Adapters: the only place that talks to S3 and DynamoDB.

Clients are created lazily (first use, then reused across warm invocations) so that importing a
handler stays cheap and tests can point boto3 at moto before anything connects.  Botocore's own
retries run first; what still fails is classified as transient (the state machine retries it) or
permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, Protocol

from imgpipe.errors import IMAGE_TOO_LARGE, SOURCE_MISSING, TransientError

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


def _client(service: AwsService, **options: Any) -> Any:
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


# ---- execution history (the API's GET /images/{imageId}/execution) ---------------------------------
class ExecutionHistory(Protocol):
    """One execution's events, shaped like Step Functions' GetExecutionHistory, wherever they are kept."""

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]: ...


@dataclass
class StepFunctionsHistory:
    """Step Functions keeps the history itself: the local emulator (and any Standard workflow)."""

    @cached_property
    def client(self) -> Any:
        return _client("stepfunctions")

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]:
        try:
            pages = self.client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            return [event for page in pages for event in page["events"]]
        except Exception as exc:
            raise classify(exc) from exc


# Log records carry their event's time.  The record's startedAt is written by the execution's second
# state, to the second, so the searched window starts a little before it and ends a little after.
HISTORY_WINDOW_MARGIN_MS = 60_000


@dataclass
class CloudWatchHistory:
    """An Express workflow's history exists only in its log group (logging level ALL, with execution
    data: stacks/workflow.py); delivery there is best effort and takes a few seconds."""

    log_group: str

    @cached_property
    def client(self) -> Any:
        return _client("logs")

    def events(self, execution_arn: str, started: datetime, stopped: datetime | None) -> list[dict[str, Any]]:
        from imgpipe.cloudwatch_history import fetch_execution

        start = int(started.timestamp() * 1000) - HISTORY_WINDOW_MARGIN_MS
        end = None if stopped is None else int(stopped.timestamp() * 1000) + HISTORY_WINDOW_MARGIN_MS
        try:
            return fetch_execution(self.client, self.log_group, execution_arn, start_time=start, end_time=end)
        except Exception as exc:
            raise classify(exc) from exc


def execution_history(log_group: str | None) -> ExecutionHistory:
    """The workflow's log group when the stack names one (Express on AWS), else Step Functions (locally)."""
    return CloudWatchHistory(log_group) if log_group else StepFunctionsHistory()


class ObjectStore(Protocol):
    def get(self, bucket: str, key: str, max_bytes: int) -> bytes: ...
    def put(self, bucket: str, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None: ...


@dataclass
class S3Store:
    """ObjectStore on S3, plus presigning for the API."""

    @cached_property
    def client(self) -> Any:
        # SigV4 everywhere: presigned PUTs then sign the content type and length too.  Virtual
        # addressing gives regional hosts (<bucket>.s3.<region>.amazonaws.com): the global host
        # answers a new bucket outside us-east-1 with a 307 that browsers and signatures fail on.
        # With an endpoint URL (the local emulator) botocore still uses path style.  Bodies are not
        # hashed into the signature: over HTTPS with the CRC32 checksum that is botocore's default
        # already, and over the emulator's plain HTTP it would hash every 6 MB intermediate again.
        return _client(
            "s3", signature_version="s3v4", s3={"addressing_style": "virtual", "payload_signing_enabled": False}
        )

    def get(self, bucket: str, key: str, max_bytes: int) -> bytes:
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise SOURCE_MISSING(f"s3://{bucket}/{key} does not exist") from None
            raise classify(exc) from exc
        length = response.get("ContentLength", 0)
        if length > max_bytes:
            response["Body"].close()
            raise IMAGE_TOO_LARGE(f"{length} bytes is over the limit of {max_bytes}")
        body = response["Body"]
        try:
            # The whole body is ContentLength (<= max_bytes) bytes; a shorter read is a dropped
            # connection (retry), not a corrupt image.
            data: bytes = body.read(length)
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            body.close()
        if len(data) != length:
            raise TransientError(f"s3://{bucket}/{key}: read {len(data)} of {length} bytes")
        return data

    def put(self, bucket: str, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, **extra)
        except Exception as exc:
            raise classify(exc) from exc

    def presign_put(self, bucket: str, key: str, content_type: str, content_length: int, expires_in: int) -> str:
        url: str = self.client.generate_presigned_url(
            "put_object",
            # If-None-Match: * makes the key write-once: one image id is one content, forever, so a
            # reused URL cannot swap the bytes under renditions already made (or cached immutable).
            Params={
                "Bucket": bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": content_length,
                "IfNoneMatch": "*",
            },
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return url

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url


# ---- image records in DynamoDB -------------------------------------------------------------------
def to_dynamo(value: Any) -> Any:
    """Floats are not allowed by the DynamoDB resource API; Decimal them (recursively)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def _condition_failed(exc: Exception) -> bool:
    code: str | None = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


class StaleExecution(Exception):
    """A newer upload of the same image has claimed the record; this execution's result is moot."""


class ImageRepository(Protocol):
    def create_awaiting(self, item: dict[str, Any]) -> None: ...
    def get(self, image_id: str) -> dict[str, Any] | None: ...
    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> None: ...
    def fail_stale(self, image_id: str, execution_id: str, error: dict[str, str], now: str) -> bool: ...


@dataclass
class DynamoImages:
    """ImageRepository on DynamoDB, through the low-level client: the resource API costs ~25 ms more
    at cold start (docs/performance.md) for conversions two small functions do here."""

    table_name: str

    @cached_property
    def client(self) -> Any:
        return _client("dynamodb")

    @staticmethod
    def _encode(values: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeSerializer

        serializer = TypeSerializer()
        return {k: serializer.serialize(to_dynamo(v)) for k, v in values.items() if v is not None}

    @staticmethod
    def _decode(item: dict[str, Any]) -> dict[str, Any]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        return from_dynamo({k: deserializer.deserialize(v) for k, v in item.items()})

    def _key(self, image_id: str) -> dict[str, Any]:
        return {"imageId": {"S": image_id}}

    def create_awaiting(self, item: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name, Item=self._encode(item), ConditionExpression="attribute_not_exists(imageId)"
            )
        except Exception as exc:
            raise classify(exc) from exc

    def get(self, image_id: str) -> dict[str, Any] | None:
        try:
            item = self.client.get_item(TableName=self.table_name, Key=self._key(image_id), ConsistentRead=True).get(
                "Item"
            )
        except Exception as exc:
            raise classify(exc) from exc
        return self._decode(item) if item else None

    def _update(
        self, image_id: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """True if written; False if the condition did not hold."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(image_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._encode(values),
            )
        except Exception as exc:
            if _condition_failed(exc):
                return False
            raise classify(exc) from exc
        return True

    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> None:
        """Write the finished record, only if this execution still owns the image."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        if not self._update(
            image_id, update, "objectVersion = :version", names, {**values, ":version": object_version}
        ):
            raise StaleExecution(f"image {image_id} was claimed by a newer upload")

    def fail_stale(self, image_id: str, execution_id: str, error: dict[str, str], now: str) -> bool:
        """Mark FAILED a record still PROCESSING under ``execution_id``; False if it moved on."""
        return self._update(
            image_id,
            "SET #status = :failed, #error = :error, failedAt = :now, updatedAt = :now",
            "#status = :processing AND executionId = :execution",
            {"#status": "status", "#error": "error"},
            {
                ":failed": "FAILED",
                ":processing": "PROCESSING",
                ":execution": execution_id,
                ":error": error,
                ":now": now,
            },
        )
