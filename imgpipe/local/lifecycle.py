"""S3 lifecycle and DynamoDB TTL, locally: what AWS deletes by itself, the local stack deletes too.

On AWS the output bucket's lifecycle rule expires the ``work/`` intermediates (the raw hand-off from
resize to watermark) after ``topology.WORK_EXPIRY_DAYS``, and DynamoDB deletes a record some time
after its ``ttl`` (an upload URL that was never used).  moto does neither, and keeps everything in
memory: a long-running ``imgpipe serve`` grew by ~1.9 MB per upload, three quarters of it
intermediates.  The sweeper runs every few seconds and deletes

* the ``work/<imageId>/`` objects of images that are COMPLETE, FAILED or DELETED: no step reads them
  again (a record in those states is final: a redelivered event ends as a duplicate), so this
  is what AWS would keep long-term, reached sooner than its one-day expiry;
* any ``work/`` object older than ``WORK_EXPIRY_DAYS`` (the rule itself: an image whose execution
  died without recording anything);
* records whose ``ttl`` has passed (the API already answers 404 for them, as on AWS).

Memory per upload is then what AWS keeps: the original, the renditions and the record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from imgpipe.config import COMPLETE, DELETED, FAILED, TABLE_KEY, TABLE_TTL_ATTRIBUTE, WORK_PREFIX
from imgpipe.topology import WORK_EXPIRY_DAYS

log = logging.getLogger("imgpipe.local")

SWEEP_INTERVAL_S = 5.0
TTL_SWEEP_INTERVAL_S = 60.0  # DynamoDB's own TTL deletion lags by hours to days; a minute is plenty
FINISHED = {COMPLETE, FAILED, DELETED}


@dataclass
class Swept:
    intermediates: int = 0
    records: int = 0


class LocalLifecycle:
    def __init__(self, session: Any, output_bucket: str, table: str, endpoint_url: str):
        self._s3 = session.client("s3", endpoint_url=endpoint_url)
        self._dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
        self._bucket = output_bucket
        self._table = table
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-lifecycle", daemon=True)
        self._last_ttl_sweep = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(SWEEP_INTERVAL_S):
            try:
                self.sweep(ttl=time.monotonic() - self._last_ttl_sweep >= TTL_SWEEP_INTERVAL_S)
            except Exception:  # the emulator is going away, or a transient fault: next round
                if not self._stop.is_set():
                    log.warning("local lifecycle sweep failed; will retry", exc_info=True)

    def sweep(self, ttl: bool = True, now: datetime | None = None) -> Swept:
        now = now or datetime.now(UTC)
        swept = Swept(intermediates=self._sweep_intermediates(now))
        if ttl:
            swept.records = self._sweep_expired_records(now)
            self._last_ttl_sweep = time.monotonic()
        return swept

    def _sweep_intermediates(self, now: datetime) -> int:
        by_image: dict[str, list[str]] = defaultdict(list)
        expired: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=WORK_PREFIX):
            for obj in page.get("Contents", []):
                if now - obj["LastModified"] > timedelta(days=WORK_EXPIRY_DAYS):
                    expired.append(obj["Key"])
                else:
                    by_image[obj["Key"][len(WORK_PREFIX) :].split("/", 1)[0]].append(obj["Key"])
        finished = self._finished(list(by_image))
        doomed = expired + [key for image_id in finished for key in by_image[image_id]]
        for start in range(0, len(doomed), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = [{"Key": key} for key in doomed[start : start + 1000]]
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": batch, "Quiet": True})
        return len(doomed)

    def _finished(self, image_ids: list[str]) -> set[str]:
        finished: set[str] = set()
        for start in range(0, len(image_ids), 100):  # BatchGetItem takes at most 100 keys
            keys: list[dict[str, Any]] = [{TABLE_KEY: {"S": image_id}} for image_id in image_ids[start : start + 100]]
            request: dict[str, Any] = {
                self._table: {"Keys": keys, "ProjectionExpression": "#key, #status",
                              "ExpressionAttributeNames": {"#key": TABLE_KEY, "#status": "status"}}
            }  # fmt: skip
            while request:
                response = self._dynamodb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    if item.get("status", {}).get("S") in FINISHED:
                        finished.add(item[TABLE_KEY]["S"])
                request = response.get("UnprocessedKeys") or {}
        return finished

    def _sweep_expired_records(self, now: datetime) -> int:
        deleted = 0
        scan: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "#key",
            "FilterExpression": "#ttl <= :now",
            "ExpressionAttributeNames": {"#key": TABLE_KEY, "#ttl": TABLE_TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":now": {"N": str(int(now.timestamp()))}},
        }
        for page in self._dynamodb.get_paginator("scan").paginate(**scan):
            for item in page.get("Items", []):
                # Only if still expired: a ClaimImage may have removed the ttl meanwhile.
                try:
                    self._dynamodb.delete_item(
                        TableName=self._table,
                        Key={TABLE_KEY: item[TABLE_KEY]},
                        ConditionExpression="#ttl <= :now",
                        ExpressionAttributeNames={"#ttl": TABLE_TTL_ATTRIBUTE},
                        ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
                    )
                    deleted += 1
                except self._dynamodb.exceptions.ConditionalCheckFailedException:
                    pass
        return deleted
