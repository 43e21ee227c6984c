"""Adapters: the only place that talks to S3, DynamoDB and EventBridge.

Clients are created lazily (first use, then reused across warm invocations) so that importing a
handler stays cheap and tests can point boto3 at moto before anything connects.  Botocore's own
retries run first; what still fails is classified as transient (the state machine retries it) or
permanent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, Protocol

from imgpipe.config import (
    DELETED,
    ENV_DISTRIBUTION_ID,
    OWNER_INDEX,
    TABLE_KEY,
    TABLE_TTL_ATTRIBUTE,
    PipelineSettings,
)
from imgpipe.errors import IMAGE_TOO_LARGE, SOURCE_MISSING, TransientError

log = logging.getLogger(__name__)

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
    def delete(self, bucket: str, keys: list[str]) -> None: ...


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

    def put_marker(self, bucket: str, key: str, tag: tuple[str, str]) -> None:
        """An empty object holding ``key`` (replacing what was there), tagged for a lifecycle rule."""
        from urllib.parse import urlencode

        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=b"", Tagging=urlencode([tag]))
        except Exception as exc:
            raise classify(exc) from exc

    def delete(self, bucket: str, keys: list[str]) -> None:
        """Delete these keys (absent ones are no error, as on S3); a key S3 refuses raises."""
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                response = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except Exception as exc:
                raise classify(exc) from exc
            if response.get("Errors"):
                first = response["Errors"][0]
                raise TransientError(f"s3://{bucket}/{first.get('Key')}: {first.get('Code')} {first.get('Message')}")

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [obj["Key"] for page in pages for obj in page.get("Contents", [])]
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


# ---- image events on EventBridge -----------------------------------------------------------------
# One event: (detail-type, detail).
Event = tuple[str, dict[str, Any]]
MAX_EVENTS_PER_CALL = 10  # PutEvents' limit


class EventPublisher(Protocol):
    def publish(self, events: list[Event]) -> int:
        """Publish in order; how many of the first ones were accepted (all of them: len(events))."""
        ...


@dataclass
class EventBridgePublisher:
    """EventPublisher on an EventBridge bus, one PutEvents call per ten events."""

    bus_name: str
    source: str

    @cached_property
    def client(self) -> Any:
        return _client("events")

    def publish(self, events: list[Event]) -> int:
        import json

        accepted = 0
        for start in range(0, len(events), MAX_EVENTS_PER_CALL):
            entries = [
                {
                    "Source": self.source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus_name,
                }
                for detail_type, detail in events[start : start + MAX_EVENTS_PER_CALL]
            ]
            try:
                response = self.client.put_events(Entries=entries)
            except Exception as exc:
                log.warning("PutEvents failed: %s", classify(exc))
                return accepted
            # PutEvents answers 200 and marks each refused entry with its own ErrorCode.
            for entry in response.get("Entries", []):
                if entry.get("ErrorCode"):
                    log.warning("event not accepted: %s %s", entry.get("ErrorCode"), entry.get("ErrorMessage"))
                    return accepted
                accepted += 1
        return accepted


# ---- the CDN's caches ----------------------------------------------------------------------------
@dataclass
class CloudFrontInvalidator:
    distribution_id: str

    @cached_property
    def client(self) -> Any:
        return _client("cloudfront")

    def invalidate(self, paths: list[str]) -> None:
        import uuid

        batch = {"Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": uuid.uuid4().hex}
        try:
            self.client.create_invalidation(DistributionId=self.distribution_id, InvalidationBatch=batch)
        except Exception as exc:
            raise classify(exc) from exc


def cdn_invalidator(
    settings: PipelineSettings, environ: Mapping[str, str] = os.environ
) -> CloudFrontInvalidator | None:
    """The distribution to invalidate on delete: with ``cdn`` delivery where one is configured (AWS);
    None with ``presigned`` (nothing caches a signed URL's object beyond its life) and locally."""
    distribution = environ.get(ENV_DISTRIBUTION_ID)
    return CloudFrontInvalidator(distribution) if settings.delivery == "cdn" and distribution else None


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


def decode_item(item: dict[str, Any]) -> dict[str, Any]:
    """A record from DynamoDB's attribute-value form (a read, or a stream record's image)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    decoded: dict[str, Any] = from_dynamo({k: deserializer.deserialize(v) for k, v in item.items()})
    return decoded


def _condition_failed(exc: Exception) -> bool:
    code: str | None = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


class StaleExecution(Exception):
    """A newer upload of the same image has claimed the record; this execution's result is moot."""


class DeletedImage(Exception):
    """The image was deleted while this execution ran: its result must not bring it back."""


# Where a page of an owner's images ends: the last image's table key and index sort key.  The owner
# is not part of it: a page key is only ever used inside the caller's own partition.
PageKey = dict[str, str]  # {"imageId": ..., "createdAt": ...}


class ImageRepository(Protocol):
    def create_awaiting(self, item: dict[str, Any]) -> None: ...
    def get(self, image_id: str) -> dict[str, Any] | None: ...
    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> dict[str, Any]: ...
    def fail_stale(self, image_id: str, execution_id: str, error: dict[str, str], now: str) -> bool: ...
    def list_by_owner(
        self, owner: str, limit: int, start: PageKey | None, status: str | None
    ) -> tuple[list[dict[str, Any]], PageKey | None]: ...
    def mark_deleted(self, image_id: str, now: str, expires_at: int) -> bool: ...
    def mark_purged(self, image_id: str, now: str) -> None: ...


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
        return decode_item(item)

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

    def complete(self, image_id: str, object_version: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the finished record, only if this execution still owns the image and it was not
        deleted meanwhile; returns the whole record as written."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(image_id),
                UpdateExpression=update,
                ConditionExpression="objectVersion = :version AND #status <> :deleted",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=self._encode({**values, ":version": object_version, ":deleted": DELETED}),
                ReturnValues="ALL_NEW",
                # Why the condition failed, without a second read: a tombstone or a newer upload.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if not _condition_failed(exc):
                raise classify(exc) from exc
            old = self._decode(getattr(exc, "response", {}).get("Item") or {})
            if old.get("status") == DELETED:
                raise DeletedImage(f"image {image_id} was deleted while it was processed") from None
            raise StaleExecution(f"image {image_id} was claimed by a newer upload") from None
        return self._decode(response.get("Attributes", {}))

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

    def list_by_owner(
        self, owner: str, limit: int, start: PageKey | None, status: str | None
    ) -> tuple[list[dict[str, Any]], PageKey | None]:
        """One query of the owner index, newest first.  DynamoDB applies ``limit`` before the status
        filter, so a filtered page can be short (or empty) and still have a next page."""
        index = OWNER_INDEX
        names = {"#owner": index.partition_key}
        values: dict[str, Any] = {":owner": owner}
        params: dict[str, Any] = {}
        if status is not None:
            names["#status"] = "status"
            values[":status"] = status
            params["FilterExpression"] = "#status = :status"
        if start is not None:
            params["ExclusiveStartKey"] = self._encode(
                {TABLE_KEY: start[TABLE_KEY], index.partition_key: owner, index.sort_key: start[index.sort_key]}
            )
        try:
            response = self.client.query(
                TableName=self.table_name,
                IndexName=index.name,
                KeyConditionExpression="#owner = :owner",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._encode(values),
                ScanIndexForward=False,
                Limit=limit,
                **params,
            )
        except Exception as exc:
            raise classify(exc) from exc
        last = self._decode(response["LastEvaluatedKey"]) if response.get("LastEvaluatedKey") else None
        page_key = {TABLE_KEY: last[TABLE_KEY], index.sort_key: last[index.sort_key]} if last else None
        return [self._decode(item) for item in response.get("Items", [])], page_key

    def mark_deleted(self, image_id: str, now: str, expires_at: int) -> bool:
        """Turn the record into a tombstone (False if it is one already or is gone).  It keeps what
        the deletion needs to finish (owner, upload key) and what keeps a late execution out (status,
        objectVersion); it leaves the owner index (no ``createdAt``) and expires at ``expires_at``."""
        return self._update(
            image_id,
            "SET #status = :deleted, deletedAt = :now, updatedAt = :now, #ttl = :ttl "
            "REMOVE createdAt, renditions, original, #error, completedAt, failedAt, startedAt",
            "attribute_exists(imageId) AND #status <> :deleted",
            {"#status": "status", "#ttl": TABLE_TTL_ATTRIBUTE, "#error": "error"},
            {":deleted": DELETED, ":now": now, ":ttl": expires_at},
        )

    def mark_purged(self, image_id: str, now: str) -> None:
        """Record that a tombstone's files are gone (its ImageDeleted event came from the tombstone's
        own write); the upload's name and key are not kept any longer than that."""
        self._update(
            image_id,
            "SET purgedAt = :now REMOVE upload, #source",
            "#status = :deleted",
            {"#status": "status", "#source": "source"},
            {":deleted": DELETED, ":now": now},
        )
