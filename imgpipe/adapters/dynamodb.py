"""Image records in DynamoDB: the conditional writes that keep one execution per upload and keep a
deleted image deleted, and the owner index's pages."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, Protocol

from imgpipe.adapters.aws import aws_client, classify
from imgpipe.config import DELETED, OWNER_INDEX, TABLE_KEY, TABLE_TTL_ATTRIBUTE


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
        return aws_client("dynamodb")

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
