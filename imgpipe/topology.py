"""The pipeline's shape, for the CDK stack and the local runtime: the functions with their memory
and timeouts, the state machine file and its substitutions, the trigger's event pattern, the API
stage and CORS preflight.  Never shipped to Lambda: the functions read what they need at run time
from ``imgpipe.config``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgpipe.config import API_ROUTES, COMPLETE, DELETED, FAILED, PROJECT, UPLOAD_PREFIX

WORK_EXPIRY_DAYS = 1  # lifecycle rule on the work/ prefix of the output bucket


@dataclass(frozen=True)
class Step:
    """One Lambda function.  ``module`` is importable both locally (``functions.<module>``) and on
    Lambda, where the asset root is ``functions/`` and the handler string is ``<module>.handler``."""

    name: str
    memory_mb: int
    timeout_s: int
    description: str

    @property
    def package(self) -> str:
        return self.name  # functions/<name>/

    @property
    def lambda_handler(self) -> str:
        return f"{self.package}.handler.handler"

    @property
    def local_module(self) -> str:
        return f"functions.{self.package}.handler"

    @property
    def service_name(self) -> str:
        return f"{PROJECT}-{self.name}"

    @property
    def task_timeout_s(self) -> int:
        """The state machine's TimeoutSeconds for a Task invoking this function."""
        return self.timeout_s + TASK_TIMEOUT_MARGIN_S


# A Task gives up on an invocation (States.Timeout) this long after the function's own timeout: the
# function's timeout fires first (its log then says why), and the Task's bounds an Invoke that hangs.
TASK_TIMEOUT_MARGIN_S = 2


# Timeouts x attempts + backoff stay under config.EXPRESS_MAX_DURATION_S: an Express execution that
# hits its 5-minute limit ends without running the failure branch (tests/unit/test_config.py proves
# the worst path, every retry included, ends in time).  They are still >= 10x the measured work: a
# 50 MP decode and resize takes ~1-2 s of one vCPU, three renditions' encodes well under 2 s.
# Memory is sized from the pixel limit (a 50 MP RGBA frame is 200 MB; see docs/performance.md).
RESIZE = Step("resize", memory_mb=1769, timeout_s=25, description="Decode, orient and resize to lossless intermediates")
WATERMARK = Step("watermark", memory_mb=1024, timeout_s=15, description="Watermark and encode the renditions")
METADATA = Step("metadata", memory_mb=256, timeout_s=10, description="Write the image record")
API = Step("api", memory_mb=256, timeout_s=10, description="Presigned upload URLs and image status")
EVENTS = Step("events", memory_mb=256, timeout_s=10, description="Publish image events from the table's changes")
STEPS = (RESIZE, WATERMARK, METADATA, API, EVENTS)
WORKFLOW_STEPS = (RESIZE, WATERMARK, METADATA)

# Substitution keys used in statemachine/pipeline.asl.json; the stack and the local runtime both
# fill them from definition_substitutions().  The file is a template, as CloudFormation treats it: a
# number placeholder stands unquoted (``"TimeoutSeconds": ${ResizeTimeoutSeconds}``), so the file is
# JSON only once filled (render_definition).
STATE_MACHINE_FILE = "statemachine/pipeline.asl.json"


def definition_substitutions(function_arns: Mapping[str, str], table_name: str) -> dict[str, str]:
    subs: dict[str, str] = {}
    for step in WORKFLOW_STEPS:
        subs[f"{step.name.capitalize()}FunctionArn"] = function_arns[step.name]
        subs[f"{step.name.capitalize()}TimeoutSeconds"] = str(step.task_timeout_s)
    subs["TableName"] = table_name
    return subs


def render_definition(template: str, substitutions: Mapping[str, str]) -> str:
    """The definition as Step Functions gets it: every ``${Key}`` replaced by its text, as
    CloudFormation's DefinitionSubstitutions do.  An unknown placeholder is an error, not left in."""
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", template)) - set(substitutions))
    if missing:
        raise KeyError(f"no substitution for {missing} in the state machine definition")
    return re.sub(r"\$\{(\w+)\}", lambda match: substitutions[match.group(1)], template)


# The original of a FAILED image is tagged so (the state machine's TagFailedOriginal) and the input
# bucket's lifecycle expires it: a refused upload does not stay forever (the image record says why).
FAILED_ORIGINAL_TAG = ("imgpipe-outcome", "FAILED")
FAILED_ORIGINAL_EXPIRY_DAYS = 14
# The empty object a delete leaves at the original's key (config.DELETED_MARKER_TAG) expires so.
DELETED_MARKER_EXPIRY_DAYS = 1


API_STAGE = "prod"
# ---- CORS: what a web page may do with the API and the buckets ----------------------------------------
# Which pages (origins) may is one setting, PipelineSettings.cors_allowed_origins; what they may do is
# here.  The API's preflight is answered by API Gateway itself (stacks/api.py) and by the local twin
# (imgpipe/local/apigw.py); the bucket rules go to the CDK buckets (stacks/storage.py) and to the
# local buckets (imgpipe/local/provision.py), where the local S3 answers from them (s3_access.py).
API_CORS_ALLOW_HEADERS = ("Content-Type", "X-Api-Key", "Authorization")  # Authorization: auth "jwt"
API_CORS_ALLOW_METHODS = (*sorted({route.method for route in API_ROUTES}), "OPTIONS")
API_CORS_MAX_AGE_S = 600


def api_error_allow_origin(allowed_origins: tuple[str, ...]) -> str | None:
    """Access-Control-Allow-Origin on the errors API Gateway answers itself (gateway responses: no
    key, throttled, missing parameter).  A gateway response has a fixed header or one copied from the
    request: with several allowed origins it copies the request's Origin (None here).  Those errors
    carry no data, and a page on any allowed origin must be able to read a 429 or a 403."""
    return allowed_origins[0] if len(allowed_origins) == 1 else None


@dataclass(frozen=True)
class BucketCors:
    """One CORS rule of a bucket, for the allowed origins."""

    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...]  # request headers a page may send (preflight)
    expose_headers: tuple[str, ...]  # response headers a page may read
    max_age_s: int = 3000

    def s3_rules(self, allowed_origins: tuple[str, ...]) -> list[dict[str, Any]]:
        """The rule as S3's PutBucketCors (and CloudFormation's CorsRules) spell it."""
        rule: dict[str, Any] = {
            "AllowedMethods": list(self.allowed_methods),
            "AllowedOrigins": list(allowed_origins),
            "ExposeHeaders": list(self.expose_headers),
            "MaxAgeSeconds": self.max_age_s,
        }
        if self.allowed_headers:
            rule["AllowedHeaders"] = list(self.allowed_headers)
        return [rule]


# A browser PUTs the file to the presigned URL with the headers the API returns (the URL signs both;
# Content-Length is the browser's own), and may read the ETag.
INPUT_BUCKET_CORS = BucketCors(("PUT",), ("Content-Type", "If-None-Match"), ("ETag",))
# Presigned rendition URLs (delivery "presigned") are fetched with GET; nothing to send but the URL.
OUTPUT_BUCKET_CORS = BucketCors(("GET", "HEAD"), (), ("ETag", "Content-Length", "Content-Type"))
STATE_MACHINE_LOG_GROUP_OUTPUT = "StateMachineLogGroup"  # the stack output `imgpipe history --stack` reads


def object_created_pattern(input_bucket: str) -> dict[str, Any]:
    """The EventBridge pattern that starts the state machine (the CDK rule and the local rule)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [input_bucket]},
            "object": {"key": [{"prefix": UPLOAD_PREFIX}]},
        },
    }


# ---- delivery "cdn": CloudFront on AWS (stacks/delivery.py), the local API port locally -------------
# What CloudFront's response headers policy adds to every rendition, and the local twin too: browsers
# must not sniff a rendition into another type, and any page may read one (they are public by URL).
RENDITION_CONTENT_TYPE_OPTIONS = "nosniff"
RENDITION_CORS_ALLOW_ORIGIN = "*"
RENDITION_CORS_ALLOW_METHODS = ("GET", "HEAD")

# ---- auth "jwt": the Cognito user pool the stack creates and the local pool ---------------------------
USER_POOL_PASSWORD_MIN_LENGTH = 12


# ---- image events: the table's stream -> the events function -> EventBridge (docs/events.md) ------
# The function reads the records' changes (old and new image of each write) and publishes an event
# when an image's status turns COMPLETE, FAILED or DELETED.  Both the stack's event source mapping
# and the local stream reader deliver it only the changes this filter passes (Lambda's filter syntax,
# an EventBridge pattern on the stream record); the function checks the transition itself.
EVENT_STATUSES = (COMPLETE, FAILED, DELETED)
STREAM_FILTER = {"dynamodb": {"NewImage": {"status": {"S": list(EVENT_STATUSES)}}}}  # REMOVEs have no NewImage
STREAM_BATCH_SIZE = 10  # one PutEvents call takes at most 10 entries
STREAM_RETRY_ATTEMPTS = 10  # then the batch's position goes to the dead-letter queue (stream records live 24 h)
