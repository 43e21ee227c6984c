"""The table's stream -> the events function, locally: what Lambda's event source mapping does on AWS.

moto records a table's stream (``StreamSpecification``) but runs no event source mapping without
Docker, and reading the stream through its API would mean polling, with a new shard iterator kept
in memory for every poll.  So the stream is read where moto writes it: ``StreamShard.add`` is
wrapped to hand each new record to the reader as well, the way ``moto_patches`` tunes moto (a
target that moved in a new moto is reported, not patched).  The reader then behaves like the
mapping: the same filter (``topology.STREAM_FILTER``), batches of ``STREAM_BATCH_SIZE`` in order,
the function's ``batchItemFailures`` retried from the first failed record with backoff, and after
``STREAM_RETRY_ATTEMPTS`` the batch given up and logged (on AWS: its position goes to the
dead-letter queue).  The shard keeps only its latest records, as a stream keeps 24 hours: memory
stays bounded however long ``imgpipe serve`` runs.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from imgpipe import topology
from imgpipe.local.lambdas import LambdaService

log = logging.getLogger("imgpipe.local")
KEEP_RECORDS = 1000  # per shard; older ones are trimmed (AWS keeps 24 hours)
_MARK = "_imgpipe_stream_readers"


def matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """An event filter pattern of nested keys and lists of allowed values (the subset the stream
    filter uses) against a stream record."""
    if not isinstance(value, Mapping):
        return False
    for key, expected in pattern.items():
        if key not in value:
            return False
        if isinstance(expected, Mapping):
            if not matches(expected, value[key]):
                return False
        elif value[key] not in expected:
            return False
    return True


def _readers() -> dict[str, list[queue.Queue[dict[str, Any]]]]:
    """Table name -> the queues of the readers of its stream; installs the hook on first use."""
    from moto.dynamodb.models.table import StreamShard

    installed: dict[str, list[queue.Queue[dict[str, Any]]]] | None = getattr(StreamShard, _MARK, None)
    if installed is not None:
        return installed
    readers: dict[str, list[queue.Queue[dict[str, Any]]]] = {}
    original = StreamShard.add

    def add(shard: Any, old: Any, new: Any) -> None:
        original(shard, old, new)
        if len(shard.items) > KEEP_RECORDS:  # the sequence numbers go on from where they were
            trimmed = len(shard.items) - KEEP_RECORDS
            del shard.items[:trimmed]
            shard.starting_sequence_number += trimmed
        for reader in readers.get(shard.table.name, []):
            reader.put(copy.deepcopy(shard.items[-1].to_json()))

    setattr(StreamShard, "add", add)  # noqa: B010  (a method replaced on the class: typed as Any)
    setattr(StreamShard, _MARK, readers)
    return readers


def _as_lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """What the mapping hands Lambda: JSON throughout (epoch seconds) and the stream's ARN."""
    change = record["dynamodb"]
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "eventSourceARN": stream_arn}


class TableStreamReader:
    def __init__(
        self,
        lambdas: LambdaService,
        function_name: str,
        table_name: str,
        stream_arn: str,
        retry_wait_s: float = 0.5,
    ):
        self._lambdas = lambdas
        self._function = function_name
        self._table = table_name
        self._stream_arn = stream_arn
        self._retry_wait_s = retry_wait_s
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="table-stream", daemon=True)
        self.given_up: list[dict[str, Any]] = []  # batches past their retries (AWS: the DLQ)

    def start(self) -> None:
        _readers().setdefault(self._table, []).append(self._queue)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        readers = _readers().get(self._table, [])
        if self._queue in readers:
            readers.remove(self._queue)
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _next_batch(self) -> list[dict[str, Any]]:
        """Records that pass the filter, up to a batch: waits for the first, takes what else is there."""
        batch: list[dict[str, Any]] = []
        while not batch and not self._stop.is_set():
            try:
                record = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            while True:
                if matches(topology.STREAM_FILTER, record):
                    batch.append(_as_lambda_record(record, self._stream_arn))
                if len(batch) == topology.STREAM_BATCH_SIZE:
                    break
                try:
                    record = self._queue.get_nowait()
                except queue.Empty:
                    break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            attempts = 0
            while batch and not self._stop.is_set():
                failed_from = self._deliver(batch)
                if failed_from is None:
                    break
                batch = batch[failed_from:]
                attempts += 1
                if attempts > topology.STREAM_RETRY_ATTEMPTS:
                    log.error("events for %d stream records not published after %d attempts", len(batch), attempts)
                    self.given_up.append({"records": batch})
                    break
                self._stop.wait(self._retry_wait_s * min(2 ** (attempts - 1), 8))

    def _deliver(self, batch: list[dict[str, Any]]) -> int | None:
        """None if the whole batch is done, else the index to retry from."""
        try:
            result = self._lambdas.invoke(self._function, {"Records": batch})
        except Exception:
            log.exception("invoking %s failed", self._function)
            return 0
        if result.error_type:
            log.warning("%s failed: %s", self._function, result.payload.get("errorMessage"))
            return 0
        failures = {f.get("itemIdentifier") for f in (result.payload or {}).get("batchItemFailures", [])}
        for index, record in enumerate(batch):
            if record["dynamodb"]["SequenceNumber"] in failures:
                return index
        return None
