"""Production readiness of the synthesized stack: it deploys again after a destroy and beside a second
copy, its workflow rides out crashes and throttling, it tells its operators, and it leaks nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from infra_support import ALARM_EMAIL, REPO_ROOT, SECOND_STACK_NAME, STACK_NAME, Synth

from imgpipe import config, topology
from stacks.context import DEFAULT_RESERVED_CONCURRENCY, OperationsOptions
from stacks.monitoring import FAILURES_METRIC
from stacks.pins import exact_pin, locked_version

# Properties holding a physical name that must be unique in an account and region (or globally),
# by resource type; a path for names nested in a config block.
PHYSICAL_NAMES: dict[str, list[tuple[str, ...]]] = {
    "AWS::S3::Bucket": [("BucketName",)],
    "AWS::DynamoDB::Table": [("TableName",)],
    "AWS::Logs::LogGroup": [("LogGroupName",)],
    "AWS::StepFunctions::StateMachine": [("StateMachineName",)],
    "AWS::Lambda::Function": [("FunctionName",)],
    "AWS::Lambda::LayerVersion": [("LayerName",)],
    "AWS::SQS::Queue": [("QueueName",)],
    "AWS::SNS::Topic": [("TopicName",)],
    "AWS::Events::Rule": [("Name",)],
    "AWS::Events::EventBus": [("Name",)],
    "AWS::IAM::Role": [("RoleName",)],
    "AWS::IAM::ManagedPolicy": [("ManagedPolicyName",)],
    "AWS::KMS::Alias": [("AliasName",)],
    "AWS::ApiGateway::ApiKey": [("Name",)],
    "AWS::CloudWatch::Alarm": [("AlarmName",)],
    "AWS::CloudWatch::CompositeAlarm": [("AlarmName",)],
    "AWS::CloudWatch::Dashboard": [("DashboardName",)],
    "AWS::SSM::Parameter": [("Name",)],
    "AWS::Cognito::UserPoolDomain": [("Domain",)],
    "AWS::CloudFront::Function": [("Name",)],
    "AWS::CloudFront::CachePolicy": [("CachePolicyConfig", "Name")],
    "AWS::CloudFront::OriginRequestPolicy": [("OriginRequestPolicyConfig", "Name")],
    "AWS::CloudFront::ResponseHeadersPolicy": [("ResponseHeadersPolicyConfig", "Name")],
    "AWS::CloudFront::OriginAccessControl": [("OriginAccessControlConfig", "Name")],
}
RETAINED = {"Retain", "RetainExceptOnCreate", "Snapshot"}
SHARED_PSEUDO_PARAMETERS = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix"}


def physical_names(synth: Synth) -> list[tuple[str, str, tuple[str, ...], Any]]:
    """(logical id, type, property path, value) of every explicit physical name in the template."""
    found = []
    for logical_id, resource in synth.template["Resources"].items():
        for path in PHYSICAL_NAMES.get(resource["Type"], []):
            value: Any = resource.get("Properties", {})
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            if value is not None:
                found.append((logical_id, resource["Type"], path, value))
    return found


def rendered(value: Any, synth: Synth) -> str:
    """A name as it will be once deployed, as far as that is known: literal text stays, and what
    differs per stack (its id and name, the physical ids of its resources) is marked with the stack's
    name; what two stacks in one account share (region, account, a parameter's default) is not."""
    if isinstance(value, list):
        return ",".join(rendered(item, synth) for item in value)
    if not isinstance(value, dict):
        return str(value)
    ((function, argument),) = value.items()
    if function == "Ref" and argument in SHARED_PSEUDO_PARAMETERS:
        return f"<{argument}>"
    if function == "Ref" and argument in synth.template.get("Parameters", {}):
        return f"<parameter {synth.template['Parameters'][argument].get('Default')}>"
    if function in ("Ref", "Fn::GetAtt"):
        target = argument if isinstance(argument, str) else argument[0]
        return f"<{synth.stack.stack_name}:{target}>"
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(rendered(part, synth) for part in parts)
    return f"{function}({rendered(argument, synth)})"


def unique_per_creation(value: Any, synth: Synth) -> bool:
    """True when the name holds something new for every stack created: the stack's id, or the
    physical id of a resource that is itself not retained (created anew with the stack)."""
    if isinstance(value, list):
        return any(unique_per_creation(item, synth) for item in value)
    if not isinstance(value, dict):
        return False
    ((function, argument),) = value.items()
    if function == "Ref" and argument == "AWS::StackId":
        return True
    if function in ("Ref", "Fn::GetAtt"):
        target = argument if isinstance(argument, str) else argument[0]
        resource = synth.template["Resources"].get(target)
        return resource is not None and resource.get("DeletionPolicy") not in RETAINED
    return unique_per_creation(argument, synth)


# ---- deploys, and deploys again -------------------------------------------------------------------
def test_no_retained_resource_has_a_fixed_physical_name(synth: Synth) -> None:
    """A retained resource outlives `cdk destroy`; with a fixed name the next deploy of the same stack
    would fail on it (AlreadyExists).  Every retained resource is either unnamed or named per stack."""
    retained = {k for k, r in synth.template["Resources"].items() if r.get("DeletionPolicy") in RETAINED}
    assert retained
    named = [(lid, type_, value) for lid, type_, _, value in physical_names(synth) if lid in retained]
    assert named, "the state machine's log group at least is retained and named"
    for logical_id, type_, value in named:
        assert unique_per_creation(value, synth), (logical_id, type_, rendered(value, synth))


def test_the_state_machine_log_group_is_named_per_stack_instance_under_vendedlogs(synth: Synth) -> None:
    log_group = synth.resource(synth.logical_id(synth.stack.workflow.log_group))
    name = log_group["Properties"]["LogGroupName"]
    assert rendered(name, synth).startswith(f"/aws/vendedlogs/states/{STACK_NAME}-pipeline-")
    assert unique_per_creation(name, synth)
    assert log_group["DeletionPolicy"] in RETAINED  # kept by default: the naming is what makes it safe


def test_two_stacks_in_one_account_and_region_share_no_physical_name(synth: Synth, second_synth: Synth) -> None:
    assert second_synth.stack.stack_name == SECOND_STACK_NAME != synth.stack.stack_name

    def names(s: Synth) -> dict[tuple[str, tuple[str, ...], str], str]:
        found = {}
        for logical_id, type_, path, value in physical_names(s):
            key = (type_, path, rendered(value, s))
            assert key not in found, f"{logical_id} and {found[key]} share the name {key}"
            found[key] = logical_id
        return found

    first, second = names(synth), names(second_synth)
    assert len(first) >= 10  # functions, alarms, the dashboard, the rule, log groups...
    assert set(first) & set(second) == set()


def test_the_powertools_layer_is_the_release_pyproject_pins_exactly_and_the_lock_agrees() -> None:
    release = exact_pin("aws-lambda-powertools")
    assert locked_version("aws-lambda-powertools") == release
    # The one-line check of docs/deploy.md names that very parameter.
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    parameter = f"/aws/service/powertools/python/arm64/python3.12/{release}"
    assert re.search(rf"aws ssm get-parameter --name {re.escape(parameter)}\b", deploy)


# ---- workflow resilience, as deployed ----------------------------------------------------------
def lambda_tasks(synth: Synth) -> dict[str, dict[str, Any]]:
    states = synth.state_machine_definition()["States"]
    tasks = {name: s for name, s in states.items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"}
    assert len(tasks) == len(topology.WORKFLOW_STEPS)
    return tasks


def test_every_lambda_task_has_a_timeout_and_retries_crashes_and_client_timeouts(synth: Synth) -> None:
    for name, task in lambda_tasks(synth).items():
        assert isinstance(task["TimeoutSeconds"], int) and task["TimeoutSeconds"] > 0, name
        retried = {error for retrier in task["Retry"] for error in retrier["ErrorEquals"]}
        assert {"Lambda.Unknown", "Lambda.ClientExecutionTimeoutException", "States.Timeout"} <= retried, name


def test_throttling_gets_at_least_four_retries_of_its_own(synth: Synth) -> None:
    for name, task in lambda_tasks(synth).items():
        (throttled,) = [r for r in task["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert throttled["ErrorEquals"] == ["Lambda.TooManyRequestsException"], name
        assert throttled["MaxAttempts"] >= 4, name


def test_the_lambda_task_timeouts_are_the_functions_timeouts_plus_the_margin(synth: Synth) -> None:
    functions = {synth.logical_id(fn): fn for fn in synth.stack.functions.functions.values()}
    for name, task in lambda_tasks(synth).items():
        arn = json.loads(task["Parameters"]["FunctionName"].replace("'", '"'))
        fn = synth.resource(arn["Fn::GetAtt"][0])
        assert arn["Fn::GetAtt"][0] in functions
        assert task["TimeoutSeconds"] == fn["Properties"]["Timeout"] + topology.TASK_TIMEOUT_MARGIN_S, name


# ---- operations ----------------------------------------------------------------------------------
def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in synth.resources("AWS::CloudWatch::Alarm").items()}


def watched_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of what an alarm watches, metric math included."""
    plain = [(alarm.get("Namespace"), alarm.get("MetricName"), alarm.get("Dimensions", []))]
    stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
    metrics = plain if alarm.get("MetricName") else [(m["Namespace"], m["MetricName"], m["Dimensions"]) for m in stats]
    return [(ns, name, {d["Name"]: d["Value"] for d in dims}) for ns, name, dims in metrics]


def alarms_on(synth: Synth, namespace: str, metric: str, **dimensions: Any) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in alarms(synth).values()
        if any(
            ns == namespace and name == metric and all(dims.get(k) == v for k, v in dimensions.items())
            for ns, name, dims in watched_metrics(alarm)
        )
    ]


def test_at_least_five_alarms_each_notifying_the_alarm_topic(synth: Synth) -> None:
    topic_id = synth.logical_id(synth.stack.monitoring.alarm_topic)
    assert synth.resource(topic_id)["Type"] == "AWS::SNS::Topic"
    found = alarms(synth)
    assert len(found) >= 5
    for logical_id, alarm in found.items():
        assert {"Ref": topic_id} in alarm.get("AlarmActions", []), logical_id
        assert alarm["AlarmName"].startswith(f"{STACK_NAME}-"), logical_id


def test_the_alarms_watch_what_the_operations_section_lists(synth: Synth) -> None:
    stack = synth.stack
    queue = {"Fn::GetAtt": [synth.logical_id(stack.trigger.dead_letter_queue), "QueueName"]}
    (dlq,) = alarms_on(synth, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=queue)
    assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)
    # Every queue of the stack is a dead-letter queue of something, and each one alarms.
    for logical_id in synth.resources("AWS::SQS::Queue"):
        name = {"Fn::GetAtt": [logical_id, "QueueName"]}
        assert alarms_on(synth, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=name), logical_id
    (rule,) = alarms_on(
        synth, "AWS/Events", "FailedInvocations", RuleName={"Ref": synth.logical_id(stack.trigger.rule)}
    )
    assert (rule["ComparisonOperator"], rule["Threshold"]) == ("GreaterThanThreshold", 0)
    machine = {"Ref": synth.logical_id(stack.workflow.state_machine)}
    assert alarms_on(synth, "AWS/States", "ExecutionsTimedOut", StateMachineArn=machine)
    assert alarms_on(synth, "AWS/States", "ExecutionsFailed", StateMachineArn=machine)
    for name, fn in stack.functions.functions.items():
        function = {"Ref": synth.logical_id(fn)}
        assert alarms_on(synth, "AWS/Lambda", "Errors", FunctionName=function), name
        assert alarms_on(synth, "AWS/Lambda", "Throttles", FunctionName=function), name
    api = {"ApiName": stack.api.rest_api.rest_api_name, "Stage": topology.API_STAGE}
    assert alarms_on(synth, "AWS/ApiGateway", "5XXError", **api)
    (latency,) = alarms_on(synth, "AWS/ApiGateway", "Latency", **api)
    statistics = [latency.get("ExtendedStatistic")] + [m["MetricStat"]["Stat"] for m in latency.get("Metrics", [])]
    assert "p99" in statistics


def test_failures_of_bad_uploads_alarm_on_a_sustained_share_not_the_first_one(synth: Synth) -> None:
    machine = {"Ref": synth.logical_id(synth.stack.workflow.state_machine)}
    (failed,) = alarms_on(synth, "AWS/States", "ExecutionsFailed", StateMachineArn=machine)
    assert any("/" in m.get("Expression", "") for m in failed["Metrics"])  # failed / started
    assert failed["DatapointsToAlarm"] == failed["EvaluationPeriods"] > 1
    assert 0 < failed["Threshold"] < 1


def test_the_alarm_topic_is_encrypted_tls_only_and_open_to_this_accounts_alarms_only(synth: Synth) -> None:
    topic = synth.stack.monitoring.alarm_topic
    props = synth.resource(synth.logical_id(topic))["Properties"]
    key = synth.resource(props["KmsMasterKeyId"]["Fn::GetAtt"][0])
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and "kms:GenerateDataKey*" in s["Action"]
        for s in key["Properties"]["KeyPolicy"]["Statement"]
    )
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::SNS::TopicPolicy").values()
        if {"Ref": synth.logical_id(topic)} in p["Properties"]["Topics"]
    ]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)
    (publish,) = [s for s in policy if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(publish["Condition"]) == {"StringEquals", "ArnLike"}
    assert "aws:SourceAccount" in publish["Condition"]["StringEquals"]


def test_an_alarm_email_is_subscribed_only_when_given(synth: Synth, second_synth: Synth) -> None:
    assert not synth.resources("AWS::SNS::Subscription")
    (subscription,) = second_synth.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == ALARM_EMAIL
    topic = second_synth.stack.monitoring.alarm_topic
    assert subscription["Properties"]["TopicArn"] == {"Ref": second_synth.logical_id(topic)}


def test_the_dashboard_shows_throughput_failures_by_error_code_and_duration_per_step(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("Throughput", "Failures by error code", "Duration per step"):
        assert title in body, title
    # Failures by error code are searched for in the functions' metric namespace.
    resize = synth.resource(synth.logical_id(synth.stack.functions.functions["resize"]))
    namespace = resize["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert f"SEARCH('{{{namespace},ErrorCode}}" in body.replace("\\", "")
    assert "ImagesCompleted" in body  # emitted by the metadata function
    for step in topology.WORKFLOW_STEPS:
        assert f"{step.name} p99" in body, step.name


def test_failures_are_counted_by_error_code_from_the_workflows_execution_log(synth: Synth) -> None:
    (metric_filter,) = synth.resources("AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": synth.logical_id(synth.stack.workflow.log_group)}
    assert props["FilterPattern"] == '{ $.type = "ExecutionFailed" }'
    (transformation,) = props["MetricTransformations"]
    assert transformation["MetricName"] == FAILURES_METRIC
    assert transformation["MetricNamespace"] == f"{config.PROJECT}/{STACK_NAME}"
    assert transformation["Dimensions"] == [{"Key": "ErrorCode", "Value": "$.details.error"}]


def test_each_stack_has_its_own_metric_namespace(synth: Synth, second_synth: Synth) -> None:
    def namespaces(s: Synth) -> set[str]:
        return {
            fn["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
            for fn in s.resources("AWS::Lambda::Function").values()
        }

    assert namespaces(synth) == {f"{config.PROJECT}/{STACK_NAME}"}
    assert namespaces(second_synth) == {f"{config.PROJECT}/{SECOND_STACK_NAME}"}


# ---- security ------------------------------------------------------------------------------------
def test_the_api_function_does_not_capture_responses_in_traces(synth: Synth) -> None:
    api = synth.resource(synth.logical_id(synth.stack.functions.functions[topology.API.name]))
    assert api["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


def test_the_input_bucket_refuses_uploads_without_if_none_match(synth: Synth) -> None:
    bucket_id = synth.logical_id(synth.stack.storage.input_bucket)
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    denies = {s["Sid"]: s for s in policy if s["Effect"] == "Deny" and s["Action"] == "s3:PutObject"}
    assert set(denies) == {"DenyUploadsWithoutIfNoneMatch", "DenyPresignedUploadsWithoutIfNoneMatch"}
    uploads = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{config.UPLOAD_PREFIX}*"]]}
    for deny in denies.values():
        assert deny["Principal"] == {"AWS": "*"}
        assert deny["Resource"] == uploads
        assert deny["Condition"]["Null"] == {"s3:if-none-match": "true"}
    # Everyone but the API role; the API role too when it signs a URL (presigned = query-string auth),
    # so only its own header-signed marker write after a delete may overwrite an original.
    api_role = synth.logical_id(synth.stack.functions.functions[topology.API.name].role)
    assert denies["DenyUploadsWithoutIfNoneMatch"]["Condition"]["ArnNotEquals"] == {
        "aws:PrincipalArn": {"Fn::GetAtt": [api_role, "Arn"]}
    }
    assert denies["DenyPresignedUploadsWithoutIfNoneMatch"]["Condition"]["StringEquals"] == {
        "s3:authType": "REST-QUERY-STRING"
    }


def all_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in synth.template["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy", "AssumeRolePolicyDocument"):
            if key in props:
                found += [(logical_id, s) for s in props[key]["Statement"]]
        for inline in props.get("Policies", []):
            found += [(logical_id, s) for s in inline["PolicyDocument"]["Statement"]]
    return found


def test_no_statement_allows_listing_a_bucket_without_a_prefix_condition(synth: Synth) -> None:
    listing = [
        (logical_id, statement)
        for logical_id, statement in all_statements(synth)
        if statement["Effect"] == "Allow"
        and any(re.fullmatch(r"s3:List(Bucket|\*)|s3:\*|\*", a) for a in _as_list(statement.get("Action", [])))
    ]
    assert listing  # resize and watermark list their own prefix, for 404s
    for logical_id, statement in listing:
        prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
        assert prefixes, (logical_id, statement)
        known = (config.UPLOAD_PREFIX, config.WORK_PREFIX, config.RENDITION_PREFIX)
        assert all(p.startswith(known) for p in _as_list(prefixes)), (logical_id, prefixes)


def test_the_first_deploy_check_invokes_resize_on_a_missing_key_it_may_list(synth: Synth) -> None:
    # docs/deploy.md's one call that tells whether a prefix-conditioned ListBucket gives the 404
    deploy = (REPO_ROOT / "docs" / "deploy.md").read_text()
    check = re.search(r'--function-name "\$STACK-(\w+)".*?\\"key\\":\\"([^\\]+)\\"', deploy, re.S)
    assert check, "docs/deploy.md lost its SOURCE_MISSING check"
    step, key = check.groups()
    resize = synth.stack.functions.functions[topology.RESIZE.name]
    assert step == topology.RESIZE.name
    assert synth.resource(synth.logical_id(resize))["Properties"]["FunctionName"] == f"{STACK_NAME}-{step}"
    input_bucket = {"Fn::GetAtt": [synth.logical_id(synth.stack.storage.input_bucket), "Arn"]}
    listed = [
        prefix
        for _, statement in all_statements(synth)
        if "s3:ListBucket" in _as_list(statement["Action"]) and statement["Resource"] == input_bucket
        for prefix in _as_list(statement["Condition"]["StringLike"]["s3:prefix"])
    ]
    assert listed == [f"{config.UPLOAD_PREFIX}*"] and key.startswith(config.UPLOAD_PREFIX)


def test_the_events_role_trusts_only_this_rule_of_this_account(synth: Synth) -> None:
    trigger = synth.stack.trigger
    role = synth.resource(synth.logical_id(trigger.events_role))
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    rule = synth.resource(synth.logical_id(trigger.rule))
    source_arn = rendered(statement["Condition"]["ArnEquals"]["aws:SourceArn"], synth)
    assert source_arn.endswith(f":rule/{rule['Properties']['Name']}")
    (target,) = rule["Properties"]["Targets"]
    assert target["RoleArn"] == {"Fn::GetAtt": [synth.logical_id(trigger.events_role), "Arn"]}
    # No other role trusts EventBridge without conditions.
    for logical_id, other in synth.resources("AWS::IAM::Role").items():
        for s in other["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            if s.get("Principal") == {"Service": "events.amazonaws.com"}:
                assert "aws:SourceArn" in json.dumps(s.get("Condition", {})), logical_id


def test_image_steps_reserve_concurrency_by_default_and_not_when_turned_off(synth: Synth, second_synth: Synth) -> None:
    def reserved(s: Synth) -> dict[str, int]:
        return {
            name: props["ReservedConcurrentExecutions"]
            for name, fn in s.stack.functions.functions.items()
            if "ReservedConcurrentExecutions" in (props := s.resource(s.logical_id(fn))["Properties"])
        }

    assert reserved(synth) == DEFAULT_RESERVED_CONCURRENCY
    assert set(DEFAULT_RESERVED_CONCURRENCY) == {topology.RESIZE.name, topology.WATERMARK.name}
    assert reserved(second_synth) == {}


@pytest.mark.parametrize(
    ("reserved", "email", "message"),
    [
        ('{"resize": 0}', None, "whole number >= 1"),
        ({"resize": True}, None, "whole number >= 1"),
        ({"thumbnail": 5}, None, "unknown steps"),
        ("twenty", None, "JSON object"),
        (None, "ops at example", "e-mail address"),
    ],
)
def test_invalid_operations_context_is_refused(reserved: Any, email: Any, message: str) -> None:
    from imgpipe.config import SettingsError

    with pytest.raises(SettingsError, match=message):
        OperationsOptions.from_values(reserved, email)


def test_operations_context_forms_the_cli_passes() -> None:
    assert OperationsOptions.from_values(None, None).reserved_concurrency == DEFAULT_RESERVED_CONCURRENCY
    assert OperationsOptions.from_values("off", "").reserved_concurrency == {}
    assert OperationsOptions.from_values(False, None).reserved_concurrency == {}
    options = OperationsOptions.from_values('{"resize": 50, "api": 5}', " ops@example.test ")
    assert options.reserved_concurrency == {"resize": 50, "api": 5}
    assert options.alarm_email == "ops@example.test"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
