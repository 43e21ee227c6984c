"""The definition and the settings together keep promises no single file can."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from imgpipe import config, errors, topology
from imgpipe.config import PipelineSettings, SettingsError
from imgpipe.paths import checkout_root

TEMPLATE = (checkout_root() / topology.STATE_MACHINE_FILE).read_text()
FUNCTION_ARNS = {step.name: f"arn:aws:lambda:us-east-1:123456789012:function:{step.name}" for step in topology.STEPS}
DEFINITION = json.loads(
    topology.render_definition(TEMPLATE, topology.definition_substitutions(FUNCTION_ARNS, "images"))
)
STATES: dict[str, Any] = DEFINITION["States"]
STEP_BY_ARN = {FUNCTION_ARNS[step.name]: step for step in topology.WORKFLOW_STEPS}
LAMBDA_TASKS = {
    name: state for name, state in STATES.items() if state.get("Resource") == "arn:aws:states:::lambda:invoke"
}

# The budget model.  An attempt lasts at most its Task's TimeoutSeconds, except one that Lambda
# refused because the function's concurrency was exhausted: Invoke answers TooManyRequests at once,
# before anything runs, so that attempt costs a round trip (bounded here, generously, by a second).
REFUSED_BEFORE_RUNNING = {"Lambda.TooManyRequestsException"}
REFUSED_ATTEMPT_S = 1.0


def backoff_delays(retrier: dict[str, Any]) -> list[float]:
    """The longest wait before each retry (FULL jitter only ever shortens it)."""
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return [min(cap, interval * rate**i) for i in range(retrier.get("MaxAttempts", 3))]


def worst_case_seconds(state: dict[str, Any]) -> float:
    """The first attempt runs to the timeout, then every retrier is used up, each retry waiting its
    longest backoff.  Retriers keep separate counts (ASL), so errors that alternate between them
    get every retrier's attempts: the sum, not the largest."""
    if state["Type"] != "Task":
        return 0.0
    timeout = state["TimeoutSeconds"]
    total = float(timeout)
    for retrier in state.get("Retry", []):
        refused = set(retrier["ErrorEquals"]) <= REFUSED_BEFORE_RUNNING
        attempt = REFUSED_ATTEMPT_S if refused else timeout
        total += sum(delay + attempt for delay in backoff_delays(retrier))
    return total


def successors(state: dict[str, Any]) -> list[str]:
    return [name for name in [state.get("Next"), *(c["Next"] for c in state.get("Catch", []))] if name]


def longest_path(name: str, seen: tuple[str, ...] = ()) -> tuple[float, list[str]]:
    """The slowest way from ``name`` to the end of the execution, through Next and Catch."""
    assert name not in seen, f"the definition loops through {name}: no worst case exists"
    state = STATES[name]
    tails = [longest_path(after, (*seen, name)) for after in successors(state)]
    seconds, path = max(tails, default=(0.0, []))
    return worst_case_seconds(state) + seconds, [name, *path]


def test_every_task_has_a_timeout() -> None:
    tasks = [name for name, state in STATES.items() if state["Type"] == "Task"]
    assert tasks
    for name in tasks:
        assert isinstance(STATES[name].get("TimeoutSeconds"), int), name


def test_lambda_task_timeouts_are_the_function_timeouts_plus_the_margin_by_substitution() -> None:
    """Written once (topology.Step.timeout_s): the file holds placeholders, never a number."""
    assert {STEP_BY_ARN[s["Parameters"]["FunctionName"]] for s in LAMBDA_TASKS.values()} == set(topology.WORKFLOW_STEPS)
    for name, state in LAMBDA_TASKS.items():
        step = STEP_BY_ARN[state["Parameters"]["FunctionName"]]
        assert state["TimeoutSeconds"] == step.timeout_s + topology.TASK_TIMEOUT_MARGIN_S, name
    placeholders = re.findall(r'"TimeoutSeconds":\s*\$\{(\w+)\}', TEMPLATE)
    assert sorted(placeholders) == sorted(f"{s.name.capitalize()}TimeoutSeconds" for s in topology.WORKFLOW_STEPS)


def test_the_longest_path_ends_inside_the_express_limit_with_the_failure_branch_run() -> None:
    """An Express execution stopped at 5 minutes runs no Catch: the image would stay PROCESSING.
    The slowest path — every state to its last retry, then failing into RecordFailure and the
    tagging of the original — must still end inside the limit."""
    seconds, path = longest_path(DEFINITION["StartAt"])
    assert path[-3:] == ["RecordFailure", "TagFailedOriginal", "ImageFailed"], path
    assert "Metadata" in path
    assert seconds < config.EXPRESS_MAX_DURATION_S, (seconds, path)
    failure_branch = sum(worst_case_seconds(STATES[name]) for name in ("RecordFailure", "TagFailedOriginal"))
    assert config.EXPRESS_MAX_DURATION_S - (seconds - failure_branch) > failure_branch


def test_budget_model_counts_every_retrier() -> None:
    state = {
        "Type": "Task",
        "TimeoutSeconds": 10,
        "Retry": [
            {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2},
            {"ErrorEquals": ["X"], "IntervalSeconds": 1, "MaxAttempts": 1, "MaxDelaySeconds": 4},
        ],
    }
    # first attempt 10 + two refusals (1 s + 1 s wait, 1 s + 2 s wait) + one full retry (10 + 1 s wait)
    assert worst_case_seconds(state) == 10 + (1 + 1) + (1 + 2) + (10 + 1)


def test_every_lambda_task_retries_crashes_timeouts_and_service_errors_and_not_permanent_ones() -> None:
    """AWS reports an unhandled function error (crash, out of memory, timeout) as Lambda.Unknown, a
    failed Invoke as one of the Lambda service exceptions (Step Functions developer guide, "Handle
    Lambda service exceptions"); the local twin reports these the same way.  Image errors cannot pass
    on a second attempt."""
    must_retry = {
        errors.TransientError.__name__,
        "Lambda.Unknown",
        "States.Timeout",
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
    assert LAMBDA_TASKS
    for name, state in LAMBDA_TASKS.items():
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        assert must_retry <= retried, (name, must_retry - retried)
        assert not retried & set(errors.PERMANENT_CODES), name
        assert "States.ALL" not in retried and "States.TaskFailed" not in retried, name


def test_throttling_has_its_own_retrier_with_more_attempts_and_longer_waits() -> None:
    for name, state in LAMBDA_TASKS.items():
        (throttled,) = [r for r in state["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert throttled["ErrorEquals"] == ["Lambda.TooManyRequestsException"], name
        assert throttled["MaxAttempts"] >= 4, name
        others = [r for r in state["Retry"] if r is not throttled]
        assert others, name
        for other in others:
            assert throttled["MaxAttempts"] > other["MaxAttempts"], name
            assert max(backoff_delays(throttled)) > max(backoff_delays(other)), name


# ---- literals the definition must repeat (DynamoDB expressions cannot read config) ------------------
def test_the_definition_uses_configs_table_key_ttl_attribute_and_status_values() -> None:
    writes = {
        name: state for name, state in STATES.items() if state.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
    }
    assert set(writes) == {"ClaimImage", "RecordFailure"}
    statuses = {config.PROCESSING, config.COMPLETE, config.FAILED, config.AWAITING_UPLOAD}
    for name, state in writes.items():
        parameters = state["Parameters"]
        assert list(parameters["Key"]) == [config.TABLE_KEY], name
        assert parameters["ExpressionAttributeNames"]["#ttl"] == config.TABLE_TTL_ATTRIBUTE, name
        assert "#ttl" in parameters["UpdateExpression"], name
        used = {
            value["S"]
            for key, value in parameters["ExpressionAttributeValues"].items()
            if key in (":processing", ":failed", ":complete")
        }
        assert used and used <= statuses, name
    claim = writes["ClaimImage"]["Parameters"]["ExpressionAttributeValues"]
    assert claim[":processing"] == {"S": config.PROCESSING}
    record = writes["RecordFailure"]["Parameters"]["ExpressionAttributeValues"]
    assert record[":failed"] == {"S": config.FAILED}
    assert record[":complete"] == {"S": config.COMPLETE}


def test_the_image_id_is_the_key_segment_after_the_upload_prefix() -> None:
    """ParseEvent takes segment 1 of uploads/<imageId>/<name>: the prefix must be one segment."""
    expression = STATES["ParseEvent"]["Parameters"]["imageId.$"]
    match = re.fullmatch(
        r"States\.ArrayGetItem\(States\.StringSplit\(\$\.detail\.object\.key, '/'\), (\d+)\)", expression
    )
    assert match, expression
    segments = config.UPLOAD_PREFIX.rstrip("/").split("/")
    assert config.UPLOAD_PREFIX.endswith("/") and int(match.group(1)) == len(segments)


def test_the_failed_original_is_tagged_with_the_tag_the_lifecycle_rule_expires() -> None:
    tag = STATES["TagFailedOriginal"]
    assert tag["Resource"] == "arn:aws:states:::aws-sdk:s3:putObjectTagging"
    key, value = topology.FAILED_ORIGINAL_TAG
    assert tag["Parameters"]["Tagging"] == {"TagSet": [{"Key": key, "Value": value}]}
    assert STATES["RecordFailure"]["Next"] == "TagFailedOriginal"  # only once FAILED is recorded
    # A failure to tag (or to record) still ends in ImageFailed: it never stops the failure branch.
    assert [c["Next"] for c in STATES["RecordFailure"]["Catch"]] == ["ImageFailed"]
    assert [c["ErrorEquals"] for c in tag["Catch"]] == [["States.ALL"]]
    assert tag["Catch"][0]["Next"] == tag["Next"] == "ImageFailed"
    assert tag["ResultPath"] is None and tag["Catch"][0]["ResultPath"] != "$.error"


def test_every_placeholder_of_the_file_has_a_substitution() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", TEMPLATE))
    assert placeholders == set(topology.definition_substitutions(FUNCTION_ARNS, "images"))
    with pytest.raises(KeyError, match="TableName"):
        topology.render_definition(
            TEMPLATE,
            {k: v for k, v in topology.definition_substitutions(FUNCTION_ARNS, "t").items() if k != "TableName"},
        )


def test_settings_round_trip_through_json():
    settings = PipelineSettings.from_json(
        '{"watermark": {"text": "© Example", "anchor": "top-left"}, "upload_url_ttl": 600}'
    )
    assert PipelineSettings.from_json(settings.to_json()) == settings
    assert settings.watermark.anchor == "top-left"


@pytest.mark.parametrize(
    "document",
    [
        '{"background": "#0x1234"}',
        '{"background": "#12_345"}',
        '{"download_url_ttl": 86400}',
        '{"renditions": []}',
        '{"renditions": [{"name": "a", "long_edge": 100}, {"name": "a", "long_edge": 50}]}',
        '{"watermark": {"opacity": 2}}',
        '{"colour": "red"}',
        "not json",
    ],
)
def test_invalid_settings_are_refused_at_load(document: str):
    with pytest.raises(SettingsError):
        PipelineSettings.from_json(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"limits": {"max_bytes": "x"}}, 'limits.max_bytes must be a whole number, not "x"'),
        ({"limits": {"max_frames": True}}, "limits.max_frames must be a whole number, not true"),
        ({"limits": {"max_edge": 0}}, "limits.max_edge must be positive"),
        ({"watermark": {"text": 5}}, "watermark.text must be a string, not 5"),
        ({"watermark": {"opacity": "0.5"}}, 'watermark.opacity must be a number, not "0.5"'),
        ({"watermark": {"logo_key": 3}}, "watermark.logo_key must be a string or null, not 3"),
        ({"watermark": {"tile": "yes"}}, 'watermark.tile must be true or false, not "yes"'),
        ({"watermark": {"opacity": 2}}, "watermark.opacity must be in (0, 1]"),
        ({"watermark": []}, "watermark must be a JSON object, not a list"),
        ({"keep_copyright": 1}, "keep_copyright must be true or false, not 1"),
        ({"upload_url_ttl": None}, "upload_url_ttl must be a whole number, not null"),
        ({"renditions": "large"}, 'renditions must be a list of objects, not "large"'),
        ({"renditions": [5]}, "renditions[0] must be a JSON object, not 5"),
        ({"renditions": [{"name": "a"}]}, "renditions[0] needs long_edge"),
        ({"renditions": [{"name": "a", "long_edge": 99.5}]}, "rendition a: long_edge must be a whole number, not 99.5"),
        ({"renditions": [{"name": 7, "long_edge": 100}]}, "rendition: name must be a string, not 7"),
        ([], "settings must be a JSON object, not a list"),
        ("{}", 'settings must be a JSON object, not "{}"'),
    ],
)
def test_each_invalid_setting_is_one_line_naming_the_field_and_the_rule(document: object, message: str):
    with pytest.raises(SettingsError) as raised:
        PipelineSettings.from_mapping(document)
    assert str(raised.value) == message


def test_unknown_keys_are_named_with_the_known_ones():
    with pytest.raises(SettingsError) as raised:
        PipelineSettings.from_mapping({"watermark": {"colour": "red"}})
    assert str(raised.value) == (
        "unknown watermark settings: ['colour'] (known: text, logo_key, anchor, margin, opacity, size, tile, min_edge)"
    )


def test_a_number_setting_takes_a_whole_number_where_json_has_no_distinction():
    assert PipelineSettings.from_mapping({"watermark": {"margin": 0, "opacity": 1}}).watermark.opacity == 1
