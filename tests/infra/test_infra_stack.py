"""The synthesized CloudFormation template pins what the pipeline relies on at runtime."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_support import LOG_RETENTION_DAYS, REPO_ROOT, SETTINGS, STACK_NAME, Synth

from imgpipe import config, topology
from imgpipe.config import PipelineSettings
from stacks.packaging import LAMBDA_RUNTIME_NAME


# ---- helpers ---------------------------------------------------------------------------------------
def functions_by_step(synth: Synth) -> dict[str, dict[str, Any]]:
    found = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        name = fn["Properties"].get("FunctionName", "")
        for step in topology.STEPS:
            if name == f"{STACK_NAME}-{step.name}":
                found[step.name] = fn["Properties"]
    assert set(found) == {s.name for s in topology.STEPS}
    return found


def function_logical_ids(synth: Synth) -> dict[str, str]:
    return {name: synth.logical_id(fn) for name, fn in synth.stack.functions.functions.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement of the template: AWS::IAM::Policy, inline role policies, managed policies."""
    found = []
    for logical_id, res in synth.template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(logical_id, s) for s in props["PolicyDocument"]["Statement"]]
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(logical_id, s) for s in policy["PolicyDocument"]["Statement"]]
    return found


def role_statements(synth: Synth, role_construct: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role_construct)
    statements = []
    for res in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in res["Properties"]["Roles"]:
            statements += res["Properties"]["PolicyDocument"]["Statement"]
    return statements


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(action, resource) pairs, resources rendered as JSON so intrinsics compare exactly."""
    return {
        (action, json.dumps(resource, sort_keys=True))
        for s in statements
        if s["Effect"] == "Allow"
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    }


def object_arn(bucket_id: str, key_pattern: str) -> str:
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{key_pattern}"]]}, sort_keys=True)


def getatt(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def api_paths(synth: Synth) -> dict[str, set[str]]:
    """Path → HTTP methods (OPTIONS preflights excluded), rebuilt from Resource/Method."""
    resources = synth.resources("AWS::ApiGateway::Resource")
    api_id = synth.logical_id(synth.stack.api.rest_api)

    def path_of(ref: Any) -> str:
        if isinstance(ref, dict) and ref.get("Fn::GetAtt") == [api_id, "RootResourceId"]:
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    paths: dict[str, set[str]] = {}
    for method in synth.resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        paths.setdefault(path_of(props["ResourceId"]) or "/", set()).add(props["HttpMethod"].lower())
    return paths


# ---- workflow ------------------------------------------------------------------------------------
def test_state_machine_is_express(template: Any) -> None:
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"StateMachineType": "EXPRESS"})


def test_state_machine_logs_every_event_with_execution_data_to_its_output_log_group(synth: Synth) -> None:
    (sm,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    logging = sm["Properties"]["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    log_group_id = synth.logical_id(synth.stack.workflow.log_group)
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}
    ]
    assert synth.template["Outputs"][topology.STATE_MACHINE_LOG_GROUP_OUTPUT]["Value"] == {"Ref": log_group_id}
    assert synth.resource(log_group_id)["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS


def test_state_machine_tracing_is_enabled(template: Any) -> None:
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {"TracingConfiguration": {"Enabled": True}})


def test_state_machine_definition_after_substitution_equals_the_asl_file(synth: Synth) -> None:
    (sm,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    props = sm["Properties"]
    # DefinitionBody.from_file ships the file as an asset; find it in the cloud assembly.
    key = props["DefinitionS3Location"]["Key"]
    manifest = json.loads((synth.outdir / f"{STACK_NAME}.assets.json").read_text())
    (asset,) = [a for a in manifest["files"].values() if key in json.dumps(a["destinations"])]
    deployed = (synth.outdir / asset["source"]["path"]).read_text()
    source = (REPO_ROOT / topology.STATE_MACHINE_FILE).read_text()

    subs = props["DefinitionSubstitutions"]
    placeholders = set(re.findall(r"\$\{(\w+)\}", source))
    assert set(subs) == placeholders

    def render(value: Any) -> str:  # an intrinsic as a comparable string; text (a timeout) as it is
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True).replace('"', "'")

    def substitute(text: str, values: dict[str, str]) -> dict[str, Any]:
        return json.loads(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text))

    fn_ids = function_logical_ids(synth)
    expected = topology.definition_substitutions(
        {step.name: render({"Fn::GetAtt": [fn_ids[step.name], "Arn"]}) for step in topology.WORKFLOW_STEPS},
        render({"Ref": synth.logical_id(synth.stack.table.table)}),
    )
    assert {k: render(v) for k, v in subs.items()} == expected
    # What CloudFormation hands Step Functions: the shipped file with the template's substitutions.
    actual = substitute(deployed, {k: render(v) for k, v in subs.items()})
    assert actual["States"] == substitute(source, expected)["States"]
    assert actual == substitute(source, expected)


# ---- trigger -------------------------------------------------------------------------------------
def test_rule_matches_object_created_under_upload_prefix_of_input_bucket(synth: Synth) -> None:
    (rule,) = synth.resources("AWS::Events::Rule").values()
    input_bucket = {"Ref": synth.logical_id(synth.stack.storage.input_bucket)}
    assert rule["Properties"]["EventPattern"] == topology.object_created_pattern(input_bucket)
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": synth.logical_id(synth.stack.storage.input_bucket)}]},
            "object": {"key": [{"prefix": config.UPLOAD_PREFIX}]},
        },
    }


def test_rule_targets_the_state_machine_with_retry_policy_and_dead_letter_queue(synth: Synth) -> None:
    (rule,) = synth.resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": synth.logical_id(synth.stack.workflow.state_machine)}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 7200}
    queue_id = synth.logical_id(synth.stack.trigger.dead_letter_queue)
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}


def test_dead_letter_queue_is_encrypted_and_ssl_only(synth: Synth) -> None:
    queue_id = synth.logical_id(synth.stack.trigger.dead_letter_queue)
    assert synth.resource(queue_id)["Properties"]["SqsManagedSseEnabled"] is True
    (policy,) = [
        p for p in synth.resources("AWS::SQS::QueuePolicy").values() if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    # EventBridge may send to it, only on behalf of this rule.
    rule_id = synth.logical_id(synth.stack.trigger.rule)
    assert any(
        s["Effect"] == "Allow"
        and s["Principal"] == {"Service": "events.amazonaws.com"}
        and s["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
        for s in statements
    )


# ---- functions -----------------------------------------------------------------------------------
def test_every_function_runs_the_lambda_python_on_arm64_with_active_tracing_and_json_logs(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    assert len(functions) == len(topology.STEPS)
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Runtime"] == LAMBDA_RUNTIME_NAME
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"


def test_function_handlers_memory_and_timeouts_equal_config(synth: Synth) -> None:
    functions = functions_by_step(synth)
    for step in topology.STEPS:
        props = functions[step.name]
        assert props["Handler"] == step.lambda_handler
        assert props["MemorySize"] == step.memory_mb
        assert props["Timeout"] == step.timeout_s
        assert props["Description"] == step.description


def test_function_environment_comes_from_config_and_context(synth: Synth) -> None:
    expected_settings = PipelineSettings.from_mapping(SETTINGS).to_json()
    storage, table, delivery = synth.stack.storage, synth.stack.table, synth.stack.delivery
    for step in topology.STEPS:
        env = functions_by_step(synth)[step.name]["Environment"]["Variables"]
        assert env == {
            config.ENV_INPUT_BUCKET: {"Ref": synth.logical_id(storage.input_bucket)},
            config.ENV_OUTPUT_BUCKET: {"Ref": synth.logical_id(storage.output_bucket)},
            config.ENV_TABLE: {"Ref": synth.logical_id(table.table)},
            config.ENV_SETTINGS: expected_settings,
            "POWERTOOLS_SERVICE_NAME": step.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": f"{config.PROJECT}/{STACK_NAME}",  # one namespace per stack
            **({"POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false"} if step is topology.API else {}),  # URLs
            # GET /images/{imageId}/execution reads the Express workflow's history from its log group
            **(
                {config.ENV_HISTORY_LOG_GROUP: {"Ref": synth.logical_id(synth.stack.workflow.log_group)}}
                if step is topology.API
                else {}
            ),
            # DELETE invalidates the image's paths in the distribution (delivery "cdn")
            **(
                {config.ENV_DISTRIBUTION_ID: {"Ref": synth.logical_id(delivery.distribution)}}
                if step is topology.API
                else {}
            ),
            # delivery "cdn" (the default): rendition URLs start at the distribution
            config.ENV_RENDITIONS_BASE_URL: {
                "Fn::Join": ["", ["https://", {"Fn::GetAtt": [synth.logical_id(delivery.distribution), "DomainName"]}]]
            },
        }
        # What the handlers do at cold start accepts it.
        assert PipelineSettings.from_json(env[config.ENV_SETTINGS]) == PipelineSettings.from_mapping(SETTINGS)


def test_functions_use_the_pinned_powertools_release_and_the_image_layer(synth: Synth) -> None:
    from stacks.pins import exact_pin

    layer_id = synth.logical_id(synth.stack.functions.image_layer)
    # The Powertools layer ARN comes from AWS's public SSM parameter for the release pyproject pins.
    (parameter_id,) = [
        pid for pid, p in synth.template["Parameters"].items()
        if p.get("Default")
        == f"/aws/service/powertools/python/arm64/{LAMBDA_RUNTIME_NAME}/{exact_pin('aws-lambda-powertools')}"
    ]  # fmt: skip
    assert synth.template["Parameters"][parameter_id]["Type"] == "AWS::SSM::Parameter::Value<String>"
    powertools = {"Ref": parameter_id}
    for props in functions_by_step(synth).values():
        assert sorted(map(json.dumps, props["Layers"])) == sorted(map(json.dumps, [powertools, {"Ref": layer_id}]))
    layer = synth.resource(layer_id)["Properties"]
    assert layer["CompatibleRuntimes"] == [LAMBDA_RUNTIME_NAME]
    assert layer["CompatibleArchitectures"] == ["arm64"]


def test_a_deployment_updates_the_watermark_function_before_the_resize_function(synth: Synth) -> None:
    resize = synth.logical_id(synth.stack.functions.functions[topology.RESIZE.name])
    watermark = synth.logical_id(synth.stack.functions.functions[topology.WATERMARK.name])
    assert watermark in synth.resource(resize).get("DependsOn", [])


def test_each_function_has_its_own_code_asset(synth: Synth) -> None:
    """The synth skips bundling, so the staged asset is functions/ as it is; what the bundling
    builds (the step's package and its bytecode, nothing else) is tested in test_infra_layer.
    Here: every function gets its own asset, keyed by its step's files (packaging.function_hash)."""
    manifest = json.loads((synth.outdir / f"{STACK_NAME}.assets.json").read_text())
    keys = {}
    for name, props in functions_by_step(synth).items():
        key = props["Code"]["S3Key"]
        (asset,) = [a for a in manifest["files"].values() if key in json.dumps(a["destinations"])]
        assert asset["source"]["packaging"] == "zip"
        assert props["Handler"] == f"{name}.handler.handler"
        keys[name] = key
    assert len(set(keys.values())) == len(topology.STEPS) == len(keys)


def test_function_log_groups_have_the_configured_retention(synth: Synth) -> None:
    for props in functions_by_step(synth).values():
        log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert synth.resource(log_group_id)["Properties"]["RetentionInDays"] == LOG_RETENTION_DAYS


# ---- storage -------------------------------------------------------------------------------------
def test_buckets_are_encrypted_private_and_ssl_only(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 4  # input, output, access logs, CDN access logs
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in synth.resources("AWS::S3::BucketPolicy").values()}
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        statements = policies[logical_id]["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s["Action"] == "s3:*"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        ), logical_id


def test_input_bucket_sends_events_to_eventbridge_and_output_bucket_does_not(synth: Synth) -> None:
    storage = synth.stack.storage
    input_props = synth.resource(synth.logical_id(storage.input_bucket))["Properties"]
    assert input_props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    output_props = synth.resource(synth.logical_id(storage.output_bucket))["Properties"]
    assert "NotificationConfiguration" not in output_props
    assert not synth.resources("Custom::S3BucketNotifications")


def test_buckets_log_access_to_the_access_log_bucket(synth: Synth) -> None:
    storage = synth.stack.storage
    logs_id = synth.logical_id(storage.access_logs)
    for bucket in (storage.input_bucket, storage.output_bucket):
        props = synth.resource(synth.logical_id(bucket))["Properties"]
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": logs_id}


def test_bucket_lifecycles_abort_multipart_uploads_and_expire_work_objects(synth: Synth) -> None:
    storage = synth.stack.storage
    abort = {
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Id": "abort-incomplete-uploads",
        "Status": "Enabled",
    }
    input_rules = synth.resource(synth.logical_id(storage.input_bucket))["Properties"]["LifecycleConfiguration"][
        "Rules"
    ]
    # Originals are kept (docs/decisions.md), except a FAILED image's: tagged by the workflow, expired.
    assert input_rules == [
        abort,
        {
            "ExpirationInDays": topology.FAILED_ORIGINAL_EXPIRY_DAYS,
            "Id": "expire-failed-originals",
            "Prefix": config.UPLOAD_PREFIX,
            "TagFilters": [dict(zip(("Key", "Value"), topology.FAILED_ORIGINAL_TAG, strict=True))],
            "Status": "Enabled",
        },
        {  # the empty marker a delete leaves at the original's key
            "ExpirationInDays": topology.DELETED_MARKER_EXPIRY_DAYS,
            "Id": "expire-deleted-markers",
            "Prefix": config.UPLOAD_PREFIX,
            "TagFilters": [dict(zip(("Key", "Value"), config.DELETED_MARKER_TAG, strict=True))],
            "Status": "Enabled",
        },
    ]
    output_rules = synth.resource(synth.logical_id(storage.output_bucket))["Properties"]["LifecycleConfiguration"][
        "Rules"
    ]
    assert abort in output_rules
    assert {
        "ExpirationInDays": topology.WORK_EXPIRY_DAYS,
        "Id": "expire-work",
        "Prefix": config.WORK_PREFIX,
        "Status": "Enabled",
    } in output_rules


def test_bucket_cors_rules_are_the_ones_the_local_buckets_get(synth: Synth) -> None:
    """The synthesized buckets' CORS rules, read back from buckets the local provisioner made with the
    same settings (moto in-process): one set of rules, so a page allowed locally is allowed on AWS."""
    import boto3
    from moto import mock_aws

    from imgpipe.local.provision import LocalNames, provision

    origins = PipelineSettings.from_mapping(SETTINGS).cors_allowed_origins
    names = LocalNames()
    with mock_aws():
        session = boto3.Session(region_name=names.region)
        provision(session, names, origins)
        local = {
            bucket: session.client("s3").get_bucket_cors(Bucket=bucket)["CORSRules"]
            for bucket in (names.input_bucket, names.output_bucket)
        }
    cfn_to_s3 = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    storage = synth.stack.storage
    for bucket, local_bucket in (
        (storage.input_bucket, names.input_bucket),
        (storage.output_bucket, names.output_bucket),
    ):
        deployed = synth.resource(synth.logical_id(bucket))["Properties"]["CorsConfiguration"]["CorsRules"]
        assert [{cfn_to_s3.get(k, k): v for k, v in rule.items()} for rule in deployed] == local[local_bucket]
        assert deployed[0]["AllowedOrigins"] == list(origins)


def test_a_browser_may_send_every_header_the_upload_url_asks_for(synth: Synth) -> None:
    storage = synth.stack.storage
    (input_rule,) = synth.resource(synth.logical_id(storage.input_bucket))["Properties"]["CorsConfiguration"][
        "CorsRules"
    ]
    assert input_rule["AllowedMethods"] == ["PUT"]
    from functions.api.logic import Api
    from functions.api.upload_url import issue_upload_url
    from tests.fakes import FakeImages

    class Presigner:
        def presign_put(self, *args):
            return "https://example.test/put"

    upload = issue_upload_url(
        Api(PipelineSettings(), "in", "out", FakeImages(), Presigner()),
        "a.jpg",
        "image/jpeg",
        "10",
        owner=config.SHARED_OWNER,
    )
    assert {name.lower() for name in upload["headers"]} <= {name.lower() for name in input_rule["AllowedHeaders"]}
    (output_rule,) = synth.resource(synth.logical_id(storage.output_bucket))["Properties"]["CorsConfiguration"][
        "CorsRules"
    ]
    assert set(output_rule["AllowedMethods"]) == {"GET", "HEAD"}


def test_stateful_resources_are_retained_by_default_but_not_by_a_failed_first_deploy(synth: Synth) -> None:
    # RetainExceptOnCreate: a first deploy that rolls back leaves no named log group or bucket behind
    # to block the retry; the deletion-protected table stays Retain.
    for type_ in ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::SQS::Queue"):
        for logical_id, res in synth.resources(type_).items():
            assert res.get("DeletionPolicy") == "RetainExceptOnCreate", logical_id
            assert res.get("UpdateReplacePolicy") == "Retain", logical_id
    for logical_id, res in synth.resources("AWS::DynamoDB::Table").items():
        assert res.get("DeletionPolicy") == "Retain", logical_id
    assert not synth.resources("Custom::S3AutoDeleteObjects")


# ---- table ---------------------------------------------------------------------------------------
def test_table_is_on_demand_with_pitr_ttl_and_aws_managed_encryption(template: Any, synth: Synth) -> None:
    template.resource_count_is("AWS::DynamoDB::Table", 1)
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "imageId", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("imageId", config.OWNER_INDEX.partition_key, config.OWNER_INDEX.sort_key)
            ],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            # SSEEnabled without a key: KMS with the AWS managed key aws/dynamodb.
            "SSESpecification": {"SSEEnabled": True},
        },
    )


# ---- api -----------------------------------------------------------------------------------------
def documented_routes() -> dict[str, set[str]]:
    import yaml

    paths = yaml.safe_load((REPO_ROOT / "docs" / "openapi.yaml").read_text())["paths"]
    verbs = {"get", "put", "post", "delete", "patch", "head"}
    return {path: {verb for verb in item if verb in verbs} for path, item in paths.items()}


def test_api_routes_match_the_documented_routes(synth: Synth) -> None:
    assert api_paths(synth) == documented_routes()


def test_api_methods_require_an_api_key_and_proxy_to_the_api_function(synth: Synth) -> None:
    api_fn = synth.logical_id(synth.stack.functions.functions[topology.API.name])
    methods = [m["Properties"] for m in synth.resources("AWS::ApiGateway::Method").values()]
    routed = [m for m in methods if m["HttpMethod"] != "OPTIONS"]
    assert routed
    for method in routed:
        assert method["ApiKeyRequired"] is True
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert {"Fn::GetAtt": [api_fn, "Arn"]} in method["Integration"]["Uri"]["Fn::Join"][1]
    for preflight in (m for m in methods if m["HttpMethod"] == "OPTIONS"):
        assert preflight["Integration"]["Type"] == "MOCK"
        assert preflight.get("ApiKeyRequired") in (None, False)


def test_cors_preflight_answers_what_the_local_twin_answers(synth: Synth) -> None:
    """imgpipe.local.apigw answers OPTIONS itself; it must answer what API Gateway's mock does, for a
    page on each allowed origin and for one on another."""
    from imgpipe.local.apigw import preflight as local_preflight

    origins = PipelineSettings.from_mapping(SETTINGS).cors_allowed_origins
    assert len(origins) > 1  # the interesting case: the mock chooses the origin per request
    preflights = [
        m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert len(preflights) == len({route.resource for route in config.API_ROUTES})
    for preflight in preflights:
        (response,) = preflight["Integration"]["IntegrationResponses"]
        deployed = {
            key.removeprefix("method.response.header."): value.strip("'")
            for key, value in response["ResponseParameters"].items()
        }
        # The mock's template replaces the origin by the request's when it is one of these.
        template = response.get("ResponseTemplates", {}).get("application/json", "")
        echoed = re.findall(r'\$origin == "([^"]+)"', template)
        for origin in (*origins, "https://elsewhere.test", None):
            expected = dict(deployed)
            if origin in echoed:
                expected["Access-Control-Allow-Origin"] = origin
            local = local_preflight(origins, origin)
            assert int(response["StatusCode"]) == local.status_code
            answered = {k: v for k, v in local.headers.items() if k.startswith("Access-Control-") or k == "Vary"}
            assert answered == expected, origin


def test_upload_url_query_parameters_are_required_and_validated(synth: Synth) -> None:
    (validator_id,) = synth.resources("AWS::ApiGateway::RequestValidator")
    assert synth.resource(validator_id)["Properties"]["ValidateRequestParameters"] is True
    upload = synth.stack.api.methods["GET /upload-url"].node.default_child
    props = synth.resource(synth.stack.get_logical_id(upload))["Properties"]
    assert props["RequestValidatorId"] == {"Ref": validator_id}
    assert props["RequestParameters"] == {
        "method.request.querystring.filename": True,
        "method.request.querystring.contentType": True,
        "method.request.querystring.size": True,
    }


def test_usage_plan_has_quota_throttle_and_the_api_key(template: Any, synth: Synth) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Quota": {"Limit": Match.any_value(), "Period": "DAY"},
            "Throttle": {"RateLimit": Match.any_value(), "BurstLimit": Match.any_value()},
            "ApiStages": [Match.object_like({"ApiId": {"Ref": synth.logical_id(synth.stack.api.rest_api)}})],
        },
    )
    key_id = synth.logical_id(synth.stack.api.api_key)
    template.has_resource_properties("AWS::ApiGateway::UsagePlanKey", {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY"})
    assert synth.template["Outputs"]["ApiKeyId"]["Value"] == {"Ref": key_id}
    assert "--include-value" in synth.template["Outputs"]["ApiKeyId"]["Description"]


def test_stage_traces_throttles_and_writes_json_access_logs(synth: Synth) -> None:
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings["HttpMethod"] == "*" and settings["ResourcePath"] == "/*"
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    access = props["AccessLogSetting"]
    assert access["DestinationArn"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.api.access_logs), "Arn"]}
    fields = json.loads(access["Format"])
    assert fields["requestId"] == "$context.requestId" and fields["status"] == "$context.status"


def test_gateway_errors_carry_cors_headers_and_the_documented_bodies(synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) == {"BAD_REQUEST_PARAMETERS", "DEFAULT_4XX", "DEFAULT_5XX"}
    # Several allowed origins: each gateway response copies the request's Origin (as the local twin does).
    for props in responses.values():
        assert props["ResponseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            "method.request.header.Origin"
        )
        assert props["ResponseParameters"]["gatewayresponse.header.Vary"] == "'Origin'"
    # Failed validation: the API's Error schema; the rest (403 for a missing key): {"message": ...}.
    validation = json.loads(responses["BAD_REQUEST_PARAMETERS"]["ResponseTemplates"]["application/json"])
    assert validation == {"error": {"code": "INVALID_REQUEST", "message": "$context.error.validationErrorString"}}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[kind]["ResponseTemplates"]["application/json"] == '{"message":$context.error.messageString}'


def test_stage_is_the_one_documented_in_openapi(synth: Synth) -> None:
    (stage,) = synth.resources("AWS::ApiGateway::Stage").values()
    spec = (REPO_ROOT / "docs" / "openapi.yaml").read_text()
    assert f"amazonaws.com/{stage['Properties']['StageName']}" in spec


def test_stack_outputs(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) == {
        "ApiUrl", "ApiKeyId", "InputBucketName", "OutputBucketName", "TableName", "StateMachineArn",
        topology.STATE_MACHINE_LOG_GROUP_OUTPUT, "AlarmTopicArn", "DeadLetterQueueUrl",
        "RenditionsBaseUrl", "DistributionId", "DistributionDomainName",  # delivery "cdn"
        "EventBusName", "EventsDeadLetterQueueUrl",
    }  # fmt: skip


# ---- iam -----------------------------------------------------------------------------------------
# Actions that have no resource-level permissions, so "*" is their only possible resource.
UNSCOPABLE_ACTIONS = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "dynamodb:ListStreams",  # the events function's event source mapping
}  # fmt: skip


def test_no_iam_statement_uses_a_wildcard_action(synth: Synth) -> None:
    statements = policy_statements(synth)
    assert statements
    for logical_id, statement in statements:
        for action in as_list(statement.get("Action", [])):
            assert "*" not in action, (logical_id, action)


def test_iam_resource_star_only_where_no_scoped_resource_exists(synth: Synth) -> None:
    for logical_id, statement in policy_statements(synth):
        if "*" in as_list(statement.get("Resource", [])):
            assert set(as_list(statement["Action"])) <= UNSCOPABLE_ACTIONS, (logical_id, statement)


def test_function_roles_carry_no_managed_policies(synth: Synth) -> None:
    for fn in synth.stack.functions.functions.values():
        role = synth.resource(synth.logical_id(fn.role))
        assert "ManagedPolicyArns" not in role["Properties"]


def test_each_function_role_holds_exactly_what_its_handler_calls(synth: Synth) -> None:
    storage, fns = synth.stack.storage, synth.stack.functions.functions
    inp, out = synth.logical_id(storage.input_bucket), synth.logical_id(storage.output_bucket)
    table_id = synth.logical_id(synth.stack.table.table)
    table = getatt(table_id)
    owner_index = {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, f"/index/{config.OWNER_INDEX.name}"]]}
    stream = json.dumps({"Fn::GetAtt": [table_id, "StreamArn"]}, sort_keys=True)
    dlq = getatt(synth.logical_id(synth.stack.events.dead_letter_queue))
    bus = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":events:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"},
             f":event-bus/{config.DEFAULT_EVENT_BUS}"],
        ]
    }  # fmt: skip
    distribution = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":cloudfront::", {"Ref": "AWS::AccountId"}, ":distribution/",
             {"Ref": synth.logical_id(synth.stack.delivery.distribution)}],
        ]
    }  # fmt: skip
    xray = {("xray:PutTraceSegments", '"*"'), ("xray:PutTelemetryRecords", '"*"')}

    def expected_for(name: str, extra: set[tuple[str, str]]) -> set[tuple[str, str]]:
        log_group = getatt(synth.stack.get_logical_id(fns[name].log_group.node.default_child))
        return {("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group), *xray, *extra}

    expected = {
        "resize": {
            ("s3:GetObject", object_arn(inp, f"{config.UPLOAD_PREFIX}*")),
            ("s3:ListBucket", getatt(inp)),
            ("s3:PutObject", object_arn(out, f"{config.WORK_PREFIX}*")),
        },
        "watermark": {
            ("s3:GetObject", object_arn(out, f"{config.WORK_PREFIX}*")),
            ("s3:GetObject", object_arn(out, SETTINGS["watermark"]["logo_key"])),
            ("s3:ListBucket", getatt(out)),
            ("s3:PutObject", object_arn(out, f"{config.RENDITION_PREFIX}*")),
            # discard_if_deleted: the record read after writing, a deleted image's files removed
            ("dynamodb:GetItem", table),
            ("s3:DeleteObject", object_arn(out, f"{config.RENDITION_PREFIX}*")),
            ("s3:DeleteObject", object_arn(out, f"{config.WORK_PREFIX}*")),
        },
        "metadata": {("dynamodb:UpdateItem", table)},
        "api": {
            # presigned PUTs are authorised as this role; no rendition GetObject: with delivery "cdn",
            # CloudFront reads the renditions (the role gets it only with "presigned")
            ("s3:PutObject", object_arn(inp, f"{config.UPLOAD_PREFIX}*")),
            ("dynamodb:PutItem", table),
            ("dynamodb:GetItem", table),
            ("dynamodb:UpdateItem", table),  # fail_stale, mark_deleted, mark_purged
            ("logs:FilterLogEvents", getatt(synth.logical_id(synth.stack.workflow.log_group))),  # executions
            ("dynamodb:Query", json.dumps(owner_index, sort_keys=True)),  # GET /images: the one index
            # DELETE: the tagged empty marker over the original, the image's own files found by listing
            ("s3:PutObjectTagging", object_arn(inp, f"{config.UPLOAD_PREFIX}*")),
            ("s3:ListBucket", getatt(out)),
            ("s3:DeleteObject", object_arn(out, f"{config.RENDITION_PREFIX}*")),
            ("s3:DeleteObject", object_arn(out, f"{config.WORK_PREFIX}*")),
            ("cloudfront:CreateInvalidation", json.dumps(distribution, sort_keys=True)),
        },
        "events": {  # the only principal that may publish, on the configured bus only
            ("events:PutEvents", json.dumps(bus, sort_keys=True)),
            ("dynamodb:ListStreams", '"*"'),
            ("dynamodb:DescribeStream", stream),
            ("dynamodb:GetRecords", stream),
            ("dynamodb:GetShardIterator", stream),
            *((action, dlq) for action in ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage")),
        },
    }
    assert set(expected) == {s.name for s in topology.STEPS}
    for name, extra in expected.items():
        assert grants(role_statements(synth, fns[name].role)) == expected_for(name, extra), name


def test_state_machine_role_invokes_the_workflow_functions_updates_the_table_and_tags_uploads(synth: Synth) -> None:
    statements = role_statements(synth, synth.stack.workflow.state_machine.role)
    fn_ids = function_logical_ids(synth)
    scoped = {(a, r) for a, r in grants(statements) if r != '"*"'}
    assert scoped == {
        *(("lambda:InvokeFunction", getatt(fn_ids[step.name])) for step in topology.WORKFLOW_STEPS),
        ("dynamodb:UpdateItem", getatt(synth.logical_id(synth.stack.table.table))),
        (
            "s3:PutObjectTagging",
            object_arn(synth.logical_id(synth.stack.storage.input_bucket), f"{config.UPLOAD_PREFIX}*"),
        ),
    }


@pytest.mark.parametrize("path", ["app.py", "cdk.json", "package.json"])
def test_deploy_entry_points_exist(path: str) -> None:
    assert (REPO_ROOT / path).is_file()


def test_cdk_json_runs_the_app_with_the_venv_python() -> None:
    cdk = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert cdk["app"] == ".venv/bin/python app.py"


def test_package_json_pins_the_cdk_cli() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.\d+\.\d+", version), version
