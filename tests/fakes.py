"""Fakes over mocks: small in-memory stand-ins with the same contract as the real adapters."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.errors import IMAGE_TOO_LARGE, SOURCE_MISSING


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str | None = None


class FakeStore:
    """An ``imgpipe.aws.ObjectStore`` in memory, with S3Store's error semantics."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.gets: list[tuple[str, str]] = []

    def get(self, bucket: str, key: str, max_bytes: int) -> bytes:
        self.gets.append((bucket, key))
        stored = self.objects.get((bucket, key))
        if stored is None:
            raise SOURCE_MISSING(f"s3://{bucket}/{key} does not exist")
        if len(stored.data) > max_bytes:
            raise IMAGE_TOO_LARGE(f"{len(stored.data)} bytes is over the limit of {max_bytes}")
        return stored.data

    def put(self, bucket: str, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        self.objects[(bucket, key)] = StoredObject(bytes(data), content_type, cache_control)

    def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    # ---- test helpers ----
    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def data(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)].data
