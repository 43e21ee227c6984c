"""The one source of truth shared by the CDK stack, the Lambda handlers and the local runtime.

Names, handlers, environment variables, renditions and limits are declared here once.  The stack
turns them into CloudFormation; the local runtime turns them into moto resources; the handlers read
them back from their environment at cold start (``PipelineSettings.from_env``).

Kept free of heavy imports: every Lambda imports it on cold start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from imgpipe import settings_checks

PROJECT = "imgpipe"
UPLOAD_PREFIX = "uploads/"
RENDITION_PREFIX = "renditions/"
WORK_PREFIX = "work/"  # lossless hand-off between resize and watermark; expired by lifecycle
# Where an image's derived files live in the output bucket, each under <prefix><imageId>/ (DELETE removes them).
OUTPUT_BUCKET_PREFIXES = (RENDITION_PREFIX, WORK_PREFIX)

# Environment variables every function may read.  Names, not values: the values come from the
# stack (CDK) or from the local runtime.
ENV_INPUT_BUCKET = "IMGPIPE_INPUT_BUCKET"
ENV_OUTPUT_BUCKET = "IMGPIPE_OUTPUT_BUCKET"
ENV_TABLE = "IMGPIPE_TABLE"
ENV_SETTINGS = "IMGPIPE_SETTINGS"
# The workflow's log group, where the API function reads an Express execution's history on AWS;
# unset locally, where the emulator keeps each execution's history itself.
ENV_HISTORY_LOG_GROUP = "IMGPIPE_HISTORY_LOG_GROUP"
# Where renditions are served from with delivery "cdn": https://<distribution or custom domain> on
# AWS (set by the stack), the local API's base URL locally.  No trailing slash.
ENV_RENDITIONS_BASE_URL = "IMGPIPE_RENDITIONS_BASE_URL"
# The CloudFront distribution in front of the renditions (delivery "cdn" on AWS): DELETE invalidates
# the image's paths in it.  Unset where nothing caches renditions (presigned, the local stack).
ENV_DISTRIBUTION_ID = "IMGPIPE_DISTRIBUTION_ID"

# How clients fetch renditions: "cdn" (stable unsigned URLs behind CloudFront, public to whoever
# has the URL) or "presigned" (short-lived presigned S3 GETs, for private images).
DELIVERY_MODES = ("cdn", "presigned")
# Who may call the API: "apiKey" (one shared key; every caller sees every image) or "jwt" (Cognito
# user pool tokens; each user sees only their own images).
AUTH_MODES = ("apiKey", "jwt")
# The owner of every record when auth is "apiKey": there are no user identities to tell apart.
SHARED_OWNER = "shared"
# Renditions never change under their key (an image id is one content, forever): caches may keep them.
RENDITION_MAX_AGE_S = 365 * 24 * 3600
RENDITION_CACHE_CONTROL = f"public, max-age={RENDITION_MAX_AGE_S}, immutable"

# The image events (docs/events.md): their source, detail-types and the bus they go to by default.
EVENT_SOURCE = PROJECT
IMAGE_PROCESSED = "ImageProcessed"
IMAGE_FAILED = "ImageFailed"
IMAGE_DELETED = "ImageDeleted"
DEFAULT_EVENT_BUS = "default"  # the account's default bus

RENDITION_FORMATS = ("jpeg", "webp", "avif", "png", "auto")
ANCHORS = (
    "top-left", "top", "top-right",
    "left", "center", "right",
    "bottom-left", "bottom", "bottom-right",
)  # fmt: skip

# The content types an upload may declare, and the filename kept in its key: imgpipe/uploads.py.


class SettingsError(ValueError):
    """A setting is missing or out of range; raised at cold start, never mid-request."""


def _check_types(block: Any, where: str) -> None:
    """Each field of the settings dataclass ``block`` holds its declared type; ``where`` prefixes it."""
    problem = settings_checks.type_problem(block)
    if problem:
        raise SettingsError(where + problem)


def _arguments(value: object, where: str, cls: type) -> dict[str, Any]:
    """``value`` as keyword arguments for ``cls``: a JSON object, no unknown and no missing keys."""
    arguments = settings_checks.as_arguments(value, where, cls)
    if isinstance(arguments, str):
        raise SettingsError(arguments)
    return arguments


@dataclass(frozen=True)
class Rendition:
    name: str
    long_edge: int
    format: str = "jpeg"
    quality: int = 82

    def __post_init__(self) -> None:
        _check_types(self, f"rendition {self.name}: " if isinstance(self.name, str) else "rendition: ")
        if not self.name.isidentifier():
            raise SettingsError(f"rendition name {self.name!r} must be a plain identifier")
        if not 16 <= self.long_edge <= 8192:
            raise SettingsError(f"rendition {self.name}: long_edge must be 16..8192")
        if self.format not in RENDITION_FORMATS:
            raise SettingsError(f"rendition {self.name}: format must be one of {RENDITION_FORMATS}")
        if not 1 <= self.quality <= 100:
            raise SettingsError(f"rendition {self.name}: quality must be 1..100")


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 50_000_000  # well under Pillow's own bomb threshold (~179 MP)
    max_frames: int = 500
    max_edge: int = 30_000

    def __post_init__(self) -> None:
        _check_types(self, "limits.")
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise SettingsError(f"limits.{f.name} must be positive")


@dataclass(frozen=True)
class Watermark:
    text: str = "imgpipe"
    logo_key: str | None = None  # PNG with alpha in the output bucket; None for text only
    anchor: str = "bottom-right"
    margin: float = 0.03  # of the rendition's short edge
    opacity: float = 0.55
    size: float = 0.05  # text height as a fraction of the rendition's short edge
    tile: bool = False  # diagonal repeat over the whole image
    min_edge: int = 200  # renditions whose long edge is smaller are not watermarked

    def __post_init__(self) -> None:
        _check_types(self, "watermark.")
        if self.anchor not in ANCHORS:
            raise SettingsError(f"watermark.anchor must be one of {ANCHORS}")
        if not 0 < self.opacity <= 1:
            raise SettingsError("watermark.opacity must be in (0, 1]")
        if not 0 < self.size <= 0.5:
            raise SettingsError("watermark.size must be in (0, 0.5]")
        if not 0 <= self.margin <= 0.25:
            raise SettingsError("watermark.margin must be in [0, 0.25]")
        if len(self.text) > 200:
            raise SettingsError("watermark.text must be at most 200 characters")

    @property
    def enabled(self) -> bool:
        return bool(self.text or self.logo_key)


DEFAULT_RENDITIONS = (
    Rendition("large", 1600),
    Rendition("medium", 800),
    Rendition("small", 320),
)


# A serialised origin as browsers send it: lower-case scheme and host, a port only when not the default.
_ORIGIN = re.compile(r"https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:[0-9]{1,5})?")


def _check_origins(origins: tuple[str, ...]) -> None:
    # Exact origins only: API Gateway's CORS preflight compares origins literally (no patterns), and
    # "*" cannot be mixed with origins there either.
    if not origins:
        raise SettingsError('cors_allowed_origins must list at least one origin, or be ["*"]')
    if "*" in origins and len(origins) > 1:
        raise SettingsError('cors_allowed_origins: "*" already allows every origin; list it alone')
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"cors_allowed_origins: {origin!r} is not an origin like https://app.example.com "
                "(scheme and host in lower case, an optional port, no path or trailing slash)"
            )


@dataclass(frozen=True)
class PipelineSettings:
    renditions: tuple[Rendition, ...] = DEFAULT_RENDITIONS
    limits: Limits = field(default_factory=Limits)
    watermark: Watermark = field(default_factory=Watermark)
    background: str = "#ffffff"  # alpha is flattened onto this for formats without alpha
    keep_copyright: bool = False
    upload_url_ttl: int = 300
    download_url_ttl: int = 3600
    # Web pages (origins) allowed to call the API and upload from a browser: ("*",) for any, or exact
    # origins such as "https://app.example.com".  The API's CORS and both buckets' CORS rules use it.
    cors_allowed_origins: tuple[str, ...] = ("*",)
    delivery: str = "cdn"  # one of DELIVERY_MODES
    auth: str = "apiKey"  # one of AUTH_MODES
    event_bus_name: str = DEFAULT_EVENT_BUS  # where ImageProcessed/ImageFailed/ImageDeleted are published

    def __post_init__(self) -> None:
        _check_types(self, "")
        if not self.renditions:
            raise SettingsError("at least one rendition is required")
        names = [r.name for r in self.renditions]
        if len(set(names)) != len(names):
            raise SettingsError("rendition names must be unique")
        if not 60 <= self.upload_url_ttl <= 3600:
            raise SettingsError("upload_url_ttl must be 60..3600 seconds")
        # Download URLs are signed with the API function's temporary role credentials, and die with
        # them (Lambda's last up to 12 hours); a longer lifetime would be a promise S3 breaks.
        if not 60 <= self.download_url_ttl <= 12 * 3600:
            raise SettingsError("download_url_ttl must be 60..43200 seconds")
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.background):
            raise SettingsError("background must be #rrggbb")
        _check_origins(self.cors_allowed_origins)
        if self.delivery not in DELIVERY_MODES:
            raise SettingsError(f"delivery must be one of {DELIVERY_MODES}, not {self.delivery!r}")
        if self.auth not in AUTH_MODES:
            raise SettingsError(f"auth must be one of {AUTH_MODES}, not {self.auth!r}")
        if not re.fullmatch(r"[/.\-_A-Za-z0-9]{1,256}", self.event_bus_name):
            raise SettingsError("event_bus_name must be an EventBridge bus name (not an ARN)")

    # ---- (de)serialisation: one JSON document in one environment variable / CDK context key ----
    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_mapping(cls, document: object) -> PipelineSettings:
        """Settings from a parsed JSON document; any mistake is one SettingsError naming the field."""
        data = _arguments(document, "settings", cls)
        if "renditions" in data:
            items = data["renditions"]
            if not isinstance(items, (list, tuple)):
                raise SettingsError(f"renditions must be a list of objects, not {settings_checks.shown(items)}")
            data["renditions"] = tuple(
                Rendition(**_arguments(item, f"renditions[{i}]", Rendition)) for i, item in enumerate(items)
            )
        if "limits" in data:
            data["limits"] = Limits(**_arguments(data["limits"], "limits", Limits))
        if "watermark" in data:
            data["watermark"] = Watermark(**_arguments(data["watermark"], "watermark", Watermark))
        if isinstance(data.get("cors_allowed_origins"), list):
            origins = data["cors_allowed_origins"]
            if not all(isinstance(origin, str) for origin in origins):
                raise SettingsError("cors_allowed_origins must be a list of strings")
            data["cors_allowed_origins"] = tuple(origins)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> PipelineSettings:
        try:
            return cls.from_mapping(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SettingsError(f"settings are not valid JSON: {exc}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PipelineSettings:
        text = environ.get(ENV_SETTINGS)
        return cls.from_json(text) if text else cls()


@dataclass(frozen=True)
class Resources:
    """Names of the AWS resources a function talks to, read from its environment at cold start."""

    input_bucket: str
    output_bucket: str
    table: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Resources:
        missing = [n for n in (ENV_INPUT_BUCKET, ENV_OUTPUT_BUCKET, ENV_TABLE) if not environ.get(n)]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return cls(environ[ENV_INPUT_BUCKET], environ[ENV_OUTPUT_BUCKET], environ[ENV_TABLE])

    def to_env(self) -> dict[str, str]:
        return {
            ENV_INPUT_BUCKET: self.input_bucket,
            ENV_OUTPUT_BUCKET: self.output_bucket,
            ENV_TABLE: self.table,
        }


@dataclass(frozen=True)
class Route:
    """One API resource: API Gateway (stacks/api.py) and the local twin (imgpipe/local/apigw.py)
    both build theirs from API_ROUTES; docs/openapi.yaml describes the same list."""

    method: str
    resource: str  # API Gateway resource path, e.g. /images/{imageId}
    operation: str  # the spec's operationId; the API function serves it with the function of that name
    required_query: tuple[str, ...] = ()

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(part[1:-1] for part in self.resource.split("/") if part.startswith("{"))


API_ROUTES = (
    Route("GET", "/upload-url", "getUploadUrl", required_query=("filename", "contentType", "size")),
    Route("GET", "/images/{imageId}", "getImage"),
    Route("GET", "/images/{imageId}/execution", "getImageExecution"),
    Route("GET", "/images", "listImages"),
    Route("DELETE", "/images/{imageId}", "deleteImage"),
)


def cors_allow_origin(allowed_origins: tuple[str, ...], origin: str | None) -> str | None:
    """The Access-Control-Allow-Origin for a request from ``origin``: ``*`` when any page may call,
    the origin itself when it is one of the allowed, else none (the browser then refuses the answer).
    The API function answers with it; the preflight and the buckets' rules are in imgpipe.topology."""
    if allowed_origins == ("*",):
        return "*"
    return origin if origin in allowed_origins else None


# An Express execution's hard limit; the API also uses it to tell a stuck record from a slow one.
EXPRESS_MAX_DURATION_S = 300

# The image table's partition key and its TTL attribute (the table, the adapters, the ASL).
TABLE_KEY = "imageId"
TABLE_TTL_ATTRIBUTE = "ttl"

# Status values of an image record; the API and the state machine share them.
AWAITING_UPLOAD = "AWAITING_UPLOAD"
PROCESSING = "PROCESSING"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
EXPIRED = "EXPIRED"  # computed by the API, never stored: an AWAITING_UPLOAD record whose URL expired unused
DELETED = "DELETED"  # a tombstone: the image and its files are gone; never listed, read as 404


@dataclass(frozen=True)
class SecondaryIndex:
    name: str
    partition_key: str
    sort_key: str
    projected: tuple[str, ...]  # non-key attributes copied into the index (what a query can return)


# "My uploads": an owner's images, newest first (GET /images).  The table's index on AWS and in the
# local emulator are both built from this; ``createdAt`` is an ISO-8601 UTC string, so it sorts in
# time order.  A tombstone drops ``createdAt`` and with it its place in the index.
OWNER_INDEX = SecondaryIndex(
    "byOwner", "owner", "createdAt", ("status", "updatedAt", "upload", "renditions", TABLE_TTL_ATTRIBUTE)
)

# A deleted image's tombstone keeps an execution or a redelivered upload event from bringing it back.
# EventBridge retries delivery to a target for up to 24 hours and an upload URL lives at most an hour,
# so the tombstone outlives both; DynamoDB then expires it.
TOMBSTONE_TTL_S = 2 * 24 * 3600
# A deleted image's original is replaced by an empty object with this tag rather than just deleted:
# the key stays taken, so an upload URL that still works cannot store a new original there (its PUT
# sends If-None-Match: *) for an image that no longer exists.  The input bucket's lifecycle expires
# tagged objects (topology.DELETED_MARKER_EXPIRY_DAYS), long after any upload URL (at most an hour).
DELETED_MARKER_TAG = ("imgpipe-deleted", "true")
