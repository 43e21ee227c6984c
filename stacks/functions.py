"""The four Lambda functions of ``imgpipe.topology.STEPS``, their layers, log groups and roles.

Each function gets its own role holding exactly what its handler calls (see ``_grant_*``):
no AWS managed policy, no bucket-wide or table-wide wildcards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IConstruct

from imgpipe import config, topology
from imgpipe.config import Resources
from imgpipe.topology import Step

from .context import DeployOptions, powertools_ssm_parameter
from .layer import image_layer_code, requirements
from .nag import acknowledge
from .packaging import LAMBDA_PYTHON_NODOT, LAMBDA_PYTHON_VERSION, LAMBDA_RUNTIME_NAME, function_code
from .storage import Storage
from .table import ImageTable

# CDK's own Runtime object for packaging.LAMBDA_PYTHON_VERSION (an AttributeError names a version CDK lacks).
RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, "PYTHON_" + LAMBDA_PYTHON_VERSION.replace(".", "_"))
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_ACCOUNT = "017000801446"  # AWS's publishing account for the Powertools layers
# Functions whose responses hold presigned URLs: X-Ray must not record their responses (a URL in a
# trace is a credential for anyone who can read traces).
RESPONSES_HOLD_URLS = {topology.API.name}


def metrics_namespace(stack_name: str) -> str:
    """The CloudWatch namespace of the stack's own metrics (Powertools' and the monitoring's): one per
    stack, so two stacks in one account (imgpipe:stackName) never add up each other's numbers."""
    return f"{config.PROJECT}/{stack_name}"


def powertools_layer_arn(region: str, version: int) -> str:
    layer = f"AWSLambdaPowertoolsPythonV3-python{LAMBDA_PYTHON_NODOT}-arm64"
    return f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:{layer}:{version}"


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DeployOptions,
        storage: Storage,
        table: ImageTable,
        reserved_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        reserved = dict(reserved_concurrency or {})

        self.image_layer = lambda_.LayerVersion(
            self,
            "ImageLayer",
            code=image_layer_code(),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=f"imgpipe package + {' + '.join(requirements())} "
            f"(linux/arm64, CPython {LAMBDA_PYTHON_VERSION})",
        )
        if options.powertools_layer_version is None:
            arn = ssm.StringParameter.value_for_string_parameter(self, powertools_ssm_parameter())
        else:
            arn = powertools_layer_arn(stack.region, options.powertools_layer_version)
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(self, "PowertoolsLayer", arn)

        input_bucket, output_bucket = storage.input_bucket, storage.output_bucket
        environment = {
            **Resources(input_bucket.bucket_name, output_bucket.bucket_name, table.table.table_name).to_env(),
            config.ENV_SETTINGS: options.settings.to_json(),
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace(stack.stack_name),
        }

        self.functions: dict[str, lambda_.Function] = {}
        for step in topology.STEPS:
            self.functions[step.name] = self._function(step, environment, options, reserved.get(step.name))
        # A deployment updates the reader of the resize → watermark hand-off before its writer: an
        # image resized by new code must not meet old watermark code (docs/decisions.md, "One
        # intermediate object per image"); new watermark code reads what old resize code wrote.
        self.functions[topology.RESIZE.name].node.add_dependency(self.functions[topology.WATERMARK.name])

        grants = {
            topology.RESIZE.name: self._grant_resize,
            topology.WATERMARK.name: self._grant_watermark,
            topology.METADATA.name: self._grant_metadata,
            topology.API.name: self._grant_api,
            topology.EVENTS.name: self._grant_events,
        }
        missing = set(self.functions) - set(grants)
        if missing:  # a new step in topology.STEPS must be given its permissions here
            raise ValueError(f"no permissions defined for steps {sorted(missing)}")
        for name, grant in grants.items():
            grant(self.functions[name], storage, table, options)

        for step in topology.STEPS:
            self._acknowledge(self.functions[step.name])

    # ---- one function ----------------------------------------------------------------------------
    def _function(
        self, step: Step, environment: dict[str, str], options: DeployOptions, reserved_concurrency: int | None
    ) -> lambda_.Function:
        name = step.name.capitalize()
        log_group = logs.LogGroup(
            self, f"{name}Logs", retention=options.log_retention, removal_policy=options.removal_policy
        )
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{step.service_name}: {step.description}",
        )
        log_group.grant_write(role)  # logs:CreateLogStream + logs:PutLogEvents on this group only
        tracing = {"POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false"} if step.name in RESPONSES_HOLD_URLS else {}
        return lambda_.Function(
            self,
            name,
            function_name=f"{Stack.of(self).stack_name}-{step.name}",
            description=step.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=step.lambda_handler,
            code=function_code(step),
            memory_size=step.memory_mb,
            timeout=Duration.seconds(step.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=log_group,
            role=role,
            layers=[self.powertools_layer, self.image_layer],
            environment={**environment, "POWERTOOLS_SERVICE_NAME": step.service_name, **tracing},
            reserved_concurrent_executions=reserved_concurrency,
        )

    # ---- least privilege: what each handler actually calls ---------------------------------------
    # Table grants name the table's ARN exactly: Table.grant would add "<table>/index/*" as well,
    # which only the API's Query of the owner index needs (that one names its index).
    @staticmethod
    def _grant_resize(fn: lambda_.Function, storage: Storage, table: ImageTable, options: DeployOptions) -> None:
        # S3Store.get on the upload; ListBucket makes a vanished upload a 404 (SOURCE_MISSING), not a 403.
        _allow(fn, ["s3:GetObject"], [storage.input_bucket.arn_for_objects(f"{config.UPLOAD_PREFIX}*")])
        _allow_listing(fn, storage.input_bucket, config.UPLOAD_PREFIX)
        # S3Store.put of the lossless intermediates.
        _allow(fn, ["s3:PutObject"], [storage.output_bucket.arn_for_objects(f"{config.WORK_PREFIX}*")])

    @staticmethod
    def _grant_watermark(fn: lambda_.Function, storage: Storage, table: ImageTable, options: DeployOptions) -> None:
        readable = [storage.output_bucket.arn_for_objects(f"{config.WORK_PREFIX}*")]
        if options.settings.watermark.logo_key:
            readable.append(storage.output_bucket.arn_for_objects(options.settings.watermark.logo_key))
        _allow(fn, ["s3:GetObject"], readable)
        _allow_listing(fn, storage.output_bucket, config.WORK_PREFIX)  # a vanished intermediate: 404, not 403
        _allow(fn, ["s3:PutObject"], [storage.output_bucket.arn_for_objects(f"{config.RENDITION_PREFIX}*")])
        # discard_if_deleted: read the record after writing; a deleted image's files are removed again.
        _allow(fn, ["dynamodb:GetItem"], [table.table.table_arn])
        _allow(fn, ["s3:DeleteObject"], _derived_files(storage))

    @staticmethod
    def _grant_metadata(fn: lambda_.Function, storage: Storage, table: ImageTable, options: DeployOptions) -> None:
        _allow(fn, ["dynamodb:UpdateItem"], [table.table.table_arn])  # DynamoImages.complete

    @staticmethod
    def _grant_api(fn: lambda_.Function, storage: Storage, table: ImageTable, options: DeployOptions) -> None:
        # Presigning needs no permission, but the presigned request is authorised as this role.
        _allow(fn, ["s3:PutObject"], [storage.input_bucket.arn_for_objects(f"{config.UPLOAD_PREFIX}*")])
        if options.settings.delivery == "presigned":  # with "cdn", CloudFront reads the renditions, not this role
            _allow(fn, ["s3:GetObject"], [storage.output_bucket.arn_for_objects(f"{config.RENDITION_PREFIX}*")])
        # create_awaiting, get, fail_stale (a PROCESSING record older than an Express execution can live),
        # mark_deleted and mark_purged (UpdateItem); list_by_owner queries the owner index.
        _allow(fn, ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], [table.table.table_arn])
        _allow(fn, ["dynamodb:Query"], [f"{table.table.table_arn}/index/{config.OWNER_INDEX.name}"])
        # DELETE: the empty, tagged object that replaces the original (PutObject above, with its tag), then
        # the image's renditions and work files, found by listing only under their prefixes.
        _allow(fn, ["s3:PutObjectTagging"], [storage.input_bucket.arn_for_objects(f"{config.UPLOAD_PREFIX}*")])
        for prefix in config.OUTPUT_BUCKET_PREFIXES:
            _allow_listing(fn, storage.output_bucket, prefix)
        _allow(fn, ["s3:DeleteObject"], _derived_files(storage))

    @staticmethod
    def _grant_events(fn: lambda_.Function, storage: Storage, table: ImageTable, options: DeployOptions) -> None:
        # EventBridgePublisher: PutEvents on the one bus the settings name, and no other principal may
        # (stacks/events.py adds the stream read with the event source mapping).
        bus = events.EventBus.from_event_bus_name(fn, "ImageEventBus", options.settings.event_bus_name)
        bus.grant_put_events_to(fn)

    # ---- cdk-nag acknowledgements, each on the narrowest construct ---------------------------------
    def _acknowledge(self, fn: lambda_.Function) -> None:
        stack = Stack.of(self)
        acknowledge(
            fn,
            {
                "AwsSolutions-L1": f"Pinned to {LAMBDA_RUNTIME_NAME}: the AWS-published Powertools layer used "
                f"here is the python{LAMBDA_PYTHON_NODOT}-arm64 build and the image layer ships "
                f"cp{LAMBDA_PYTHON_NODOT} wheels; moving runtime means moving both layers together "
                "(stacks/packaging.py LAMBDA_PYTHON_VERSION moves all three).",
                "Serverless-LambdaLatestVersion": f"Same pin as AwsSolutions-L1: {LAMBDA_RUNTIME_NAME} matches the "
                f"python{LAMBDA_PYTHON_NODOT}-arm64 Powertools layer and the cp{LAMBDA_PYTHON_NODOT} wheels of the "
                "image layer.",
                "Serverless-LambdaDLQ": "Invoked only synchronously (Step Functions lambda:invoke, API Gateway "
                "proxy, the table stream's event source mapping); a DLQ only applies to asynchronous invocations. "
                "Failures surface in the state machine's Catch/RecordFailure, in the HTTP response, and in the "
                "mapping's own on-failure queue (stacks/events.py).",
            },
        )
        policy = fn.role.node.try_find_child("DefaultPolicy") if fn.role else None
        assert policy is not None
        unscoped = "xray:PutTraceSegments and xray:PutTelemetryRecords (added by Tracing.ACTIVE)"
        if fn is self.functions.get(topology.EVENTS.name):  # its stream read is granted with its event source
            unscoped += " and dynamodb:ListStreams (added by the table stream's event source mapping)"
        findings = {
            "AwsSolutions-IAM5[Resource::*]": f"{unscoped} do not support resource-level permissions; no other "
            "statement of this policy uses '*'.",
        }
        for arn in _object_patterns(policy):
            if "*" not in _nag_text(stack, arn):
                continue  # an exact key (the watermark logo) is no wildcard
            findings[f"AwsSolutions-IAM5[Resource::{_nag_text(stack, arn)}]"] = (
                "Object keys are chosen per image at run time (<prefix><imageId>/...); the grant is one S3 object "
                "action limited to this single key prefix of this single bucket."
            )
        acknowledge(policy, findings)


def _allow(grantee: iam.IGrantable, actions: list[str], resources: list[str]) -> None:
    iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=resources)


def _derived_files(storage: Storage) -> list[str]:
    """The output bucket's per-image files (renditions/, work/): what a delete removes."""
    return [storage.output_bucket.arn_for_objects(f"{prefix}*") for prefix in config.OUTPUT_BUCKET_PREFIXES]


def _allow_listing(fn: lambda_.Function, bucket: s3.IBucket, prefix: str) -> None:
    """s3:ListBucket only under ``prefix``.  The steps never list: the grant is there because S3
    answers a GET of a missing key with 404 only to a caller allowed to list it (403 otherwise); the
    API lists an image's own files to delete them.  The prefix condition keeps every other key of
    the bucket out of sight."""
    fn.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def _object_patterns(policy: IConstruct) -> list[dict[str, Any]]:
    """The object ARNs (``<bucket>/<prefix>*``, ``<bucket>/<key>``) this role policy grants."""
    assert isinstance(policy, iam.Policy)
    document = Stack.of(policy).resolve(policy.document.to_json())
    patterns = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            if isinstance(resource, dict) and "Fn::Join" in resource:
                patterns.append(resource)
    return patterns


def _nag_text(stack: Stack, resource: dict[str, Any]) -> str:
    """How cdk-nag prints an intrinsic ARN in a finding id: ``<LogicalId.Arn>/uploads/*``."""
    parts = []
    for part in resource["Fn::Join"][1]:
        if isinstance(part, str):
            parts.append(part)
        elif "Fn::GetAtt" in part:
            logical_id, attribute = part["Fn::GetAtt"]
            parts.append(f"<{logical_id}.{attribute}>")
        elif "Ref" in part:
            parts.append(f"<{part['Ref']}>")
        else:
            raise ValueError(f"unexpected intrinsic in a policy resource: {part}")
    return "".join(parts)
