"""Rendition URLs, made in one place for every reader: the API (status, list) and the events.

``cdn``
    ``<base>/renditions/<imageId>/<name>.<ext>``: stable and unsigned, so pages can embed it and
    caches can keep it (renditions are immutable under their key).  ``<base>`` is the CloudFront
    distribution (or its custom domain) on AWS and the local API locally, from
    ``config.ENV_RENDITIONS_BASE_URL``.  Whoever holds the URL can fetch the image; image ids are
    128-bit random and never listed publicly (docs/decisions.md, "Renditions are public by URL").
``presigned``
    a presigned S3 GET valid for ``download_url_ttl`` seconds, with its ``expiresAt``: for images
    that must stay private to the API's callers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from imgpipe.config import ENV_RENDITIONS_BASE_URL, RENDITION_PREFIX, PipelineSettings, SettingsError
from imgpipe.contracts import utc_now


class GetPresigner(Protocol):
    def presign_get(self, bucket: str, key: str, expires_in: int) -> str: ...


@dataclass(frozen=True)
class RenditionDelivery:
    delivery: str  # config.DELIVERY_MODES
    bucket: str  # the output bucket
    base_url: str | None  # cdn: scheme://host[:port], no trailing slash
    ttl: int  # presigned: seconds a URL stays valid
    presigner: GetPresigner | None

    @classmethod
    def from_settings(
        cls,
        settings: PipelineSettings,
        bucket: str,
        presigner: GetPresigner | None,
        environ: Mapping[str, str] = os.environ,
    ) -> RenditionDelivery:
        """Checked at cold start: a cdn function without its base URL fails loudly, not with bad links."""
        base_url = environ.get(ENV_RENDITIONS_BASE_URL, "").rstrip("/") or None
        if settings.delivery == "cdn" and base_url is None:
            raise SettingsError(f"delivery is 'cdn' but {ENV_RENDITIONS_BASE_URL} is not set")
        if settings.delivery == "presigned" and presigner is None:
            raise SettingsError("delivery is 'presigned' but no presigner was given")
        return cls(settings.delivery, bucket, base_url, settings.download_url_ttl, presigner)

    def link(self, key: str, now: datetime | None = None) -> dict[str, str]:
        """``{"url": ...}`` for one rendition key, plus ``expiresAt`` when the URL expires."""
        if not key.startswith(RENDITION_PREFIX):
            raise ValueError(f"{key!r} is not a rendition key")
        if self.delivery == "cdn":
            return {"url": f"{self.base_url}/{quote(key, safe='/')}"}
        assert self.presigner is not None  # from_settings checked it
        issued = now or datetime.now(UTC)
        url = self.presigner.presign_get(self.bucket, key, self.ttl)
        # Whole seconds, rounded down: never later than the signature's own X-Amz-Date + Expires.
        return {"url": url, "expiresAt": utc_now(issued + timedelta(seconds=self.ttl))}

    def with_urls(self, renditions: Iterable[Mapping[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
        """The renditions of a record, each with its URL (and ``expiresAt`` when presigned)."""
        issued = now or datetime.now(UTC)
        return [{**rendition, **self.link(rendition["key"], issued)} for rendition in renditions]
