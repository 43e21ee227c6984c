"""CDK context → DeployOptions: defaults, the forms the CLI passes, and refusals (no synthesis)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from infra_support import REPO_ROOT

from imgpipe.config import PipelineSettings, SettingsError
from stacks.context import DeployOptions


def test_defaults_are_config_defaults_thirty_days_and_retain() -> None:
    options = DeployOptions.from_values(None, None, None, None)
    assert options.settings == PipelineSettings()
    assert options.log_retention_days == 30 and options.log_retention == logs.RetentionDays.ONE_MONTH
    assert options.removal_policy == RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE and not options.destroy
    assert options.table_removal_policy == RemovalPolicy.RETAIN
    assert options.powertools_layer_version is None  # resolved from SSM for the tested release


def test_cdk_json_context_gives_the_same_defaults() -> None:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    options = DeployOptions.from_values(
        context["imgpipe:settings"], context["imgpipe:logRetentionDays"], context["imgpipe:removalPolicy"], None
    )
    assert options == DeployOptions.from_values(None, None, None, None)


def test_settings_as_a_json_string_as_cdk_dash_c_passes_them() -> None:
    text = '{"watermark": {"text": "(c) x"}, "upload_url_ttl": 900}'
    options = DeployOptions.from_values(text, "7", "destroy", "40")
    assert options.settings.watermark.text == "(c) x" and options.settings.upload_url_ttl == 900
    assert options.log_retention == logs.RetentionDays.ONE_WEEK
    assert options.removal_policy == RemovalPolicy.DESTROY and options.destroy
    assert options.powertools_layer_version == 40


@pytest.mark.parametrize(
    ("settings", "retention", "removal", "layer", "message"),
    [
        ('{"nope": 1}', None, None, None, "unknown settings"),
        ("{not json", None, None, None, "not valid JSON"),
        ("[1, 2]", None, None, None, "JSON object"),
        ({"upload_url_ttl": 5}, None, None, None, "upload_url_ttl"),
        (None, 10, None, None, "logRetentionDays"),
        (None, "a month", None, None, "integer"),
        (None, None, "snapshot", None, "removalPolicy"),
        (None, None, None, 0, "powertoolsLayerVersion"),
    ],
)
def test_invalid_context_is_refused_before_any_resource(
    settings: object, retention: object, removal: object, layer: object, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        DeployOptions.from_values(settings, retention, removal, layer)
