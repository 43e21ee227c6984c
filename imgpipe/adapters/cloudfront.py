"""The CDN's caches: what DELETE invalidates when renditions are served through CloudFront."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from imgpipe.adapters.aws import aws_client, classify
from imgpipe.config import ENV_DISTRIBUTION_ID, PipelineSettings


@dataclass
class CloudFrontInvalidator:
    distribution_id: str

    @cached_property
    def client(self) -> Any:
        return aws_client("cloudfront")

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
