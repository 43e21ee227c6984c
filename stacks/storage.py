"""Storage: the input bucket (browser uploads), the output bucket (renditions and the lossless
hand-off between resize and watermark) and the bucket receiving both buckets' access logs."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from imgpipe.config import DELETED_MARKER_TAG, UPLOAD_PREFIX, WORK_PREFIX
from imgpipe.topology import (
    DELETED_MARKER_EXPIRY_DAYS,
    FAILED_ORIGINAL_EXPIRY_DAYS,
    FAILED_ORIGINAL_TAG,
    INPUT_BUCKET_CORS,
    OUTPUT_BUCKET_CORS,
    WORK_EXPIRY_DAYS,
    BucketCors,
)

from .context import DeployOptions

MULTIPART_ABORT_DAYS = 1  # a presigned PUT is short-lived; an upload left half-done is garbage


def _cors(rule: BucketCors, options: DeployOptions) -> list[s3.CorsRule]:
    """The bucket's CORS rule from imgpipe.topology, for the allowed origins (the local buckets get the same)."""
    return [
        s3.CorsRule(
            allowed_methods=[s3.HttpMethods(method) for method in rule.allowed_methods],
            allowed_origins=list(options.settings.cors_allowed_origins),
            allowed_headers=list(rule.allowed_headers) or None,
            exposed_headers=list(rule.expose_headers),
            max_age=rule.max_age_s,
        )
    ]


def _private_bucket(
    scope: Construct,
    construct_id: str,
    options: DeployOptions,
    *,
    lifecycle_rules: list[s3.LifecycleRule],
    cors: list[s3.CorsRule] | None = None,
    server_access_logs_bucket: s3.IBucket | None = None,
    server_access_logs_prefix: str | None = None,
) -> s3.Bucket:
    """A bucket with what all three share: private, S3-encrypted, TLS only, ACLs off."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=options.removal_policy,
        auto_delete_objects=options.destroy,
        lifecycle_rules=lifecycle_rules,
        cors=cors,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeployOptions) -> None:
        super().__init__(scope, construct_id)

        self.access_logs = _private_bucket(
            self,
            "AccessLogs",
            options,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(options.log_retention_days))
            ],
        )

        # Originals are kept: they are the only lossless source when renditions change and have to be
        # re-rendered (docs/decisions.md, "Keep the originals").  Except those of FAILED images: the
        # state machine tags them (TagFailedOriginal) and they expire, so refused uploads do not pile up.
        self.input_bucket = _private_bucket(
            self,
            "InputBucket",
            options,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="input/",
            cors=_cors(INPUT_BUCKET_CORS, options),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(MULTIPART_ABORT_DAYS),
                ),
                s3.LifecycleRule(
                    id="expire-failed-originals",
                    prefix=UPLOAD_PREFIX,
                    tag_filters=dict([FAILED_ORIGINAL_TAG]),
                    expiration=Duration.days(FAILED_ORIGINAL_EXPIRY_DAYS),
                ),
                s3.LifecycleRule(
                    id="expire-deleted-markers",
                    prefix=UPLOAD_PREFIX,
                    tag_filters=dict([DELETED_MARKER_TAG]),
                    expiration=Duration.days(DELETED_MARKER_EXPIRY_DAYS),
                ),
            ],
        )
        # S3 → EventBridge through the bucket's own NotificationConfiguration.  The L2
        # `event_bridge_enabled=True` would do the same through a Custom::S3BucketNotifications Lambda
        # (plus its role, an AWS managed policy and s3:PutBucketNotification on "*"); CloudFormation
        # supports the setting natively, so no custom resource is needed (docs/decisions.md).
        cfn_input = self.input_bucket.node.default_child
        assert isinstance(cfn_input, s3.CfnBucket)
        cfn_input.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )

        self.output_bucket = _private_bucket(
            self,
            "OutputBucket",
            options,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="output/",
            cors=_cors(OUTPUT_BUCKET_CORS, options),
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(MULTIPART_ABORT_DAYS),
                ),
                s3.LifecycleRule(id="expire-work", prefix=WORK_PREFIX, expiration=Duration.days(WORK_EXPIRY_DAYS)),
            ],
        )


def deny_uploads_without_if_none_match(bucket: s3.IBucket, marker_writer: iam.IRole) -> None:
    """Write-once uploads, whoever signs the request.

    A PutObject under uploads/ without If-None-Match (which the API's presigned URLs sign) is refused,
    so no credentials allowed to write there can replace an original under renditions already made
    from it.  One writer is exempt, and only with its own header-signed calls: the API function
    replacing a deleted image's original with an empty marker (functions/api/deletion.py), which must
    overwrite.  Presigned URLs are signed by that same role, so the query-string form stays denied
    for everyone: a still-valid upload URL cannot overwrite anything either.
    """
    without_if_none_match = {"Null": {"s3:if-none-match": "true"}}
    for sid, narrowed_by in (
        ("DenyUploadsWithoutIfNoneMatch", {"ArnNotEquals": {"aws:PrincipalArn": marker_writer.role_arn}}),
        ("DenyPresignedUploadsWithoutIfNoneMatch", {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}}),
    ):
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")],
                conditions={**without_if_none_match, **narrowed_by},
            )
        )
