"""Delivery ``cdn``: a CloudFront distribution serving the output bucket's ``renditions/`` and nothing else.

- The bucket stays private: CloudFront reads it through an origin access control (SigV4), and the
  bucket policy lets that one distribution ``s3:GetObject`` under ``renditions/`` only, so the
  originals' intermediates (``work/``) and anything else stay unreachable even by a path that
  slipped past the behaviors.  No ``s3:ListBucket``: a missing rendition answers 403, never a listing.
- ``renditions/*`` is the only behavior that reaches the bucket; every other path is answered 404 at
  the edge by a CloudFront Function, without an origin request.
- HTTPS only (HTTP redirects), HTTP/2 and 3, compression; the cache policy keys on the path alone
  and honours the ``Cache-Control: public, max-age=31536000, immutable`` the watermark step writes
  on every rendition (``config.RENDITION_CACHE_CONTROL``): its max TTL reaches that max-age.
- A response headers policy adds ``X-Content-Type-Options: nosniff``, HSTS and CORS for any origin
  (renditions are public by URL; docs/decisions.md, "Renditions are public by URL").
- Standard access logs go to a bucket of their own, the only one here that accepts ACLs, which
  CloudFront's log delivery needs; its own access logs go to the stack's access-log bucket.
- Optional custom domain (``imgpipe:cdnDomain`` + ``imgpipe:cdnCertificateArn``, stacks/context.py)
  with TLS 1.2 at least.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from imgpipe import config, topology

from .context import AccessOptions, DeployOptions
from .nag import acknowledge
from .storage import Storage

RENDITIONS_PATH_PATTERN = f"{config.RENDITION_PREFIX}*"
HSTS_MAX_AGE = Duration.days(365)
# Viewer requests outside renditions/ never reach the bucket.
NOT_A_RENDITION = "function handler(event) { return { statusCode: 404, statusDescription: 'Not Found' }; }"


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        access: AccessOptions,
        storage: Storage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bucket = storage.output_bucket

        self.log_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # CloudFront's log delivery cannot write SSE-KMS
            enforce_ssl=True,
            # CloudFront's standard logs are delivered with an ACL grant to the log-delivery account;
            # a bucket with ACLs disabled (BUCKET_OWNER_ENFORCED, as the others here) refuses them.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            server_access_logs_bucket=storage.access_logs,
            server_access_logs_prefix="cdn-logs/",
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-cdn-logs", expiration=Duration.days(options.log_retention_days))
            ],
            removal_policy=options.removal_policy,
            auto_delete_objects=options.destroy,
        )

        self.origin_access_control = cloudfront.S3OriginAccessControl(
            self,
            "OriginAccessControl",
            description=f"{stack.stack_name}: CloudFront reads renditions from the output bucket",
            signing=cloudfront.Signing.SIGV4_ALWAYS,
        )
        # with_bucket_defaults + the OAC id: with_origin_access_control would also grant the
        # distribution s3:GetObject on the whole bucket; the narrower grant is written below.
        origin = origins.S3BucketOrigin.with_bucket_defaults(
            bucket, origin_access_control_id=self.origin_access_control.origin_access_control_id
        )

        self.cache_policy = cloudfront.CachePolicy(
            self,
            "RenditionsCache",
            comment="imgpipe renditions: the path is the key; the origin's Cache-Control (immutable, 1 year) rules",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.days(1),  # only for an object without Cache-Control (none is written so)
            max_ttl=Duration.seconds(config.RENDITION_MAX_AGE_S),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "RenditionsHeaders",
            comment="imgpipe renditions: nosniff, HSTS, CORS for any origin",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=False, override=True
                ),
            ),
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=["*"],
                access_control_allow_methods=list(topology.RENDITION_CORS_ALLOW_METHODS),
                access_control_allow_origins=[topology.RENDITION_CORS_ALLOW_ORIGIN],
                origin_override=True,
            ),
        )
        not_a_rendition = cloudfront.Function(
            self,
            "NotARendition",
            code=cloudfront.FunctionCode.from_inline(NOT_A_RENDITION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="404 for every path outside renditions/, answered at the edge",
        )

        certificate = None
        if access.cdn_certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", access.cdn_certificate_arn)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{stack.stack_name}: imgpipe renditions",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=not_a_rendition, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                RENDITIONS_PATH_PATTERN: cloudfront.BehaviorOptions(
                    origin=origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                    compress=True,
                    cache_policy=self.cache_policy,
                    response_headers_policy=self.response_headers_policy,
                )
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            domain_names=[access.cdn_domain] if access.cdn_domain else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            log_includes_cookies=False,
        )

        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontReadsRenditionsOnly",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(RENDITIONS_PATH_PATTERN)],
                conditions={"StringEquals": {"AWS:SourceArn": self.distribution.distribution_arn}},
            )
        )

        host = access.cdn_domain or self.distribution.distribution_domain_name
        self.base_url = f"https://{host}"  # config.ENV_RENDITIONS_BASE_URL of the functions

        self._acknowledge(custom_certificate=certificate is not None)

    def _acknowledge(self, *, custom_certificate: bool) -> None:
        findings = {
            "AwsSolutions-CFR1": "No geo restriction: renditions are images an application chose to publish, "
            "for readers anywhere; which countries may see them is that application's decision, not the pipeline's.",
            "AwsSolutions-CFR2": "No AWS WAF web ACL: the distribution serves immutable, read-only objects by "
            "unguessable 128-bit ids from one GET/HEAD behavior, with every other path refused at the edge; there "
            "is no input to inspect, and CloudFront's built-in DDoS protection (Shield Standard) applies anyway.",
        }
        if not custom_certificate:
            findings["AwsSolutions-CFR4"] = (
                "Without a custom domain the distribution uses CloudFront's default *.cloudfront.net certificate, "
                "whose security policy CloudFront fixes (TLSv1) and cannot be raised; with imgpipe:cdnDomain and "
                "imgpipe:cdnCertificateArn the stack sets TLSv1.2_2021."
            )
        acknowledge(self.distribution, findings)
