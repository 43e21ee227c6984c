"""The definition and the settings together keep promises no single file can."""

from __future__ import annotations

import json

import pytest

from imgpipe import config, topology
from imgpipe.config import PipelineSettings, SettingsError
from imgpipe.paths import checkout_root

DEFINITION = json.loads((checkout_root() / topology.STATE_MACHINE_FILE).read_text())
STEP_BY_SUBSTITUTION = {"${" + f"{s.name.capitalize()}FunctionArn" + "}": s for s in topology.WORKFLOW_STEPS}


def worst_case_seconds(state: dict) -> float:
    """Every attempt runs to its timeout and every retry waits its longest backoff."""
    function = state.get("Parameters", {}).get("FunctionName")
    timeout = STEP_BY_SUBSTITUTION[function].timeout_s if function else state["TimeoutSeconds"]
    retriers = state.get("Retry", [{"MaxAttempts": 0}])
    worst = 0.0
    for retrier in retriers:
        interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
        cap = retrier.get("MaxDelaySeconds", float("inf"))
        attempts = retrier.get("MaxAttempts", 3)
        delays = sum(min(cap, interval * rate**i) for i in range(attempts))
        worst = max(worst, (1 + attempts) * timeout + delays)
    return worst


def test_every_task_has_a_bounded_duration():
    for name, state in DEFINITION["States"].items():
        if state["Type"] == "Task":
            function = state.get("Parameters", {}).get("FunctionName")
            assert function in STEP_BY_SUBSTITUTION or "TimeoutSeconds" in state, name


def test_the_longest_path_ends_inside_the_express_limit_so_failures_are_always_recorded():
    """An Express execution stopped at 5 minutes runs no Catch: the image would stay PROCESSING."""
    states = DEFINITION["States"]
    path = ["ClaimImage", "Resize", "Watermark", "Metadata", "RecordFailure"]
    assert sum(worst_case_seconds(states[name]) for name in path) < config.EXPRESS_MAX_DURATION_S


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
