"""Deployment options read from CDK context, validated once before any resource is defined.

Context keys (``cdk.json``'s ``context`` block or ``cdk deploy -c key=value``):

``imgpipe:settings``
    A JSON object (or a string holding one, as ``-c`` passes it) given to
    ``PipelineSettings.from_mapping``: renditions, watermark, limits, URL lifetimes.  Missing keys
    take the defaults of ``imgpipe.config``; the same document reaches every function as
    ``config.ENV_SETTINGS``.
``imgpipe:logRetentionDays``
    Retention of every log group the stack creates (a CloudWatch Logs retention value; default 30).
``imgpipe:removalPolicy``
    ``retain`` (default) keeps buckets, table, queue and log groups when the stack is deleted;
    ``destroy`` deletes them, emptying the buckets first.
``imgpipe:powertoolsLayerVersion``
    A layer version number of the AWS-published Powertools layer, to pin it by hand.  By default the
    layer ARN is resolved at deploy time from the public SSM parameter AWS publishes for the
    Powertools release pyproject.toml pins exactly (``powertools_ssm_parameter``).
``imgpipe:cdnDomain`` and ``imgpipe:cdnCertificateArn``
    With delivery ``cdn``: serve renditions from this host name (e.g. ``img.example.com``) with this
    ACM certificate, which CloudFront requires in us-east-1.  Both or neither; without them the
    distribution's own ``*.cloudfront.net`` name is used.  Point the name's DNS record (CNAME or
    alias) at the ``DistributionDomainName`` output.
``imgpipe:userPoolArn``
    With auth ``jwt``: accept ID tokens of this existing Cognito user pool instead of creating one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from imgpipe import topology
from imgpipe.config import PipelineSettings, SettingsError

from .packaging import LAMBDA_RUNTIME_NAME

SETTINGS_KEY = "imgpipe:settings"
LOG_RETENTION_KEY = "imgpipe:logRetentionDays"
REMOVAL_POLICY_KEY = "imgpipe:removalPolicy"
POWERTOOLS_LAYER_KEY = "imgpipe:powertoolsLayerVersion"
CDN_DOMAIN_KEY = "imgpipe:cdnDomain"
CDN_CERTIFICATE_KEY = "imgpipe:cdnCertificateArn"
USER_POOL_ARN_KEY = "imgpipe:userPoolArn"

DEFAULT_LOG_RETENTION_DAYS = 30


def powertools_release() -> str:
    """The Powertools release pyproject.toml pins exactly (uv.lock and so the tests use it too): the
    deployed layer is that same release, whatever happens to be installed on the deploying machine."""
    from .pins import exact_pin

    return exact_pin("aws-lambda-powertools")


def powertools_ssm_parameter(release: str | None = None) -> str:
    # Public parameter whose value is that release's layer ARN in the deploying region.  AWS has not
    # published it for every release in every region: docs/deploy.md has the one-line check.
    return f"/aws/service/powertools/python/arm64/{LAMBDA_RUNTIME_NAME}/{release or powertools_release()}"


# The values CloudWatch Logs accepts, by number of days, mapped onto the CDK enum.
_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}  # fmt: skip
# "retain" keeps data on update and delete but not when the stack's own creation rolls back: a
# resource kept then (a named log group above all) would make every retry of the first deploy fail.
_REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, "destroy": RemovalPolicy.DESTROY}


def context_values(node: Node, *keys: str) -> list[Any]:
    """The CDK context's values for ``keys`` (None where unset), in order."""
    return [node.try_get_context(key) for key in keys]


@dataclass(frozen=True)
class DeployOptions:
    settings: PipelineSettings
    log_retention_days: int
    removal: str  # "retain" | "destroy"
    powertools_layer_version: int | None  # None: resolve the tested release through SSM

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays[_RETENTION_NAMES[self.log_retention_days]]

    @property
    def removal_policy(self) -> RemovalPolicy:
        return _REMOVAL_POLICIES[self.removal]

    @property
    def table_removal_policy(self) -> RemovalPolicy:
        # The table is deletion-protected while retained, so a rollback could not delete it anyway.
        return RemovalPolicy.DESTROY if self.destroy else RemovalPolicy.RETAIN

    @property
    def destroy(self) -> bool:
        return self.removal == "destroy"

    @classmethod
    def from_context(cls, node: Node) -> DeployOptions:
        return cls.from_values(
            *context_values(node, SETTINGS_KEY, LOG_RETENTION_KEY, REMOVAL_POLICY_KEY, POWERTOOLS_LAYER_KEY)
        )

    @classmethod
    def from_values(cls, settings: Any, retention: Any, removal: Any, powertools: Any) -> DeployOptions:
        if isinstance(settings, str):  # `cdk -c imgpipe:settings='{...}'` passes a string
            try:
                settings = json.loads(settings)
            except json.JSONDecodeError as exc:
                raise SettingsError(f"{SETTINGS_KEY} is not valid JSON: {exc}") from None
        if settings is not None and not isinstance(settings, dict):
            raise SettingsError(f"{SETTINGS_KEY} must be a JSON object")
        parsed = PipelineSettings.from_mapping(settings or {})

        days = _as_int(LOG_RETENTION_KEY, retention, DEFAULT_LOG_RETENTION_DAYS)
        if days not in _RETENTION_NAMES:
            raise SettingsError(f"{LOG_RETENTION_KEY} must be one of {sorted(_RETENTION_NAMES)}, not {days}")

        removal = str(removal or "retain").lower()
        if removal not in _REMOVAL_POLICIES:
            raise SettingsError(f"{REMOVAL_POLICY_KEY} must be 'retain' or 'destroy', not {removal!r}")

        layer = _as_int(POWERTOOLS_LAYER_KEY, powertools, None)
        if layer is not None and layer < 1:
            raise SettingsError(f"{POWERTOOLS_LAYER_KEY} must be a positive layer version")
        return cls(parsed, days, removal, layer)


def _as_int(key: str, value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key} must be an integer, not {value!r}") from None


RESERVED_CONCURRENCY_KEY = "imgpipe:reservedConcurrency"
ALARM_EMAIL_KEY = "imgpipe:alarmEmail"
# Sized in docs/deploy.md ("Reserved concurrency"): the image steps' share of the account's
# concurrency, so a burst of uploads neither starves other functions nor is starved by them.
DEFAULT_RESERVED_CONCURRENCY = {"resize": 20, "watermark": 20}
_OFF = ("off", "none", "false", "0")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class OperationsOptions:
    """Context of running the stack: the functions' reserved concurrency and who gets the alarms.

    ``imgpipe:reservedConcurrency``
        ``{"<step>": n, ...}`` (steps of topology.STEPS; default DEFAULT_RESERVED_CONCURRENCY), or
        ``off`` to reserve nothing.  Lambda always keeps part of an account's concurrency unreserved
        (100 of the standard 1,000), so an account still at a new account's low limit cannot reserve
        any: its deploy fails until the limit is raised or this is ``off`` (docs/deploy.md).
    ``imgpipe:alarmEmail``
        An address subscribed to the alarm topic (it confirms by e-mail); unset: no subscription.
    """

    reserved_concurrency: dict[str, int]
    alarm_email: str | None = None

    @classmethod
    def from_context(cls, node: Node) -> OperationsOptions:
        return cls.from_values(*context_values(node, RESERVED_CONCURRENCY_KEY, ALARM_EMAIL_KEY))

    @classmethod
    def from_values(cls, reserved: Any, email: Any) -> OperationsOptions:
        if (isinstance(reserved, str) and reserved.strip().lower() in _OFF) or reserved is False:
            reserved = {}
        elif isinstance(reserved, str):  # `cdk -c imgpipe:reservedConcurrency='{"resize": 10}'`
            try:
                reserved = json.loads(reserved)
            except json.JSONDecodeError:
                raise SettingsError(
                    f'{RESERVED_CONCURRENCY_KEY} must be "off" or a JSON object like {{"resize": 20}}, not {reserved!r}'
                ) from None
        if reserved is None:
            reserved = DEFAULT_RESERVED_CONCURRENCY
        if not isinstance(reserved, dict):
            raise SettingsError(f'{RESERVED_CONCURRENCY_KEY} must be "off" or a JSON object like {{"resize": 20}}')
        steps = [step.name for step in topology.STEPS]
        unknown = sorted(set(reserved) - set(steps))
        if unknown:
            raise SettingsError(f"{RESERVED_CONCURRENCY_KEY}: unknown steps {unknown} (steps: {', '.join(steps)})")
        for step, count in reserved.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise SettingsError(
                    f"{RESERVED_CONCURRENCY_KEY}.{step} must be a whole number >= 1 (leave the step out to reserve "
                    f"nothing for it), not {count!r}"
                )

        email = str(email).strip() if email else None
        if email and not _EMAIL.fullmatch(email):
            raise SettingsError(f"{ALARM_EMAIL_KEY} must be an e-mail address, not {email!r}")
        return cls(dict(reserved), email)


_HOST_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# CloudFront only takes certificates from ACM in us-east-1.
_CDN_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}")
_USER_POOL_ARN = re.compile(r"arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[a-z0-9-]+_[0-9A-Za-z]+")


@dataclass(frozen=True)
class AccessOptions:
    """Context of delivery ``cdn`` (custom domain) and auth ``jwt`` (an existing user pool)."""

    cdn_domain: str | None = None
    cdn_certificate_arn: str | None = None
    user_pool_arn: str | None = None

    @classmethod
    def from_context(cls, node: Node) -> AccessOptions:
        return cls.from_values(*context_values(node, CDN_DOMAIN_KEY, CDN_CERTIFICATE_KEY, USER_POOL_ARN_KEY))

    @classmethod
    def from_values(cls, domain: Any, certificate: Any, user_pool: Any) -> AccessOptions:
        domain = str(domain).strip().lower().rstrip(".") if domain else None
        certificate = str(certificate).strip() if certificate else None
        user_pool = str(user_pool).strip() if user_pool else None
        if bool(domain) != bool(certificate):
            raise SettingsError(f"{CDN_DOMAIN_KEY} and {CDN_CERTIFICATE_KEY} go together: give both or neither")
        if domain and not _HOST_NAME.fullmatch(domain):
            raise SettingsError(f"{CDN_DOMAIN_KEY} must be a host name like img.example.com, not {domain!r}")
        if certificate and not _CDN_CERTIFICATE_ARN.fullmatch(certificate):
            raise SettingsError(
                f"{CDN_CERTIFICATE_KEY} must be an ACM certificate ARN in us-east-1 (CloudFront's region)"
            )
        if user_pool and not _USER_POOL_ARN.fullmatch(user_pool):
            raise SettingsError(f"{USER_POOL_ARN_KEY} must be a Cognito user pool ARN, not {user_pool!r}")
        return cls(domain, certificate, user_pool)
