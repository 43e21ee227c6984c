"""Objects on S3: originals, intermediates and renditions, and the presigned URLs the API hands out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from imgpipe.adapters.aws import aws_client, classify
from imgpipe.errors import IMAGE_TOO_LARGE, SOURCE_MISSING, TransientError


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
        return aws_client(
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
