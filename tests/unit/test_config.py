"""The definition and the settings together keep promises no single file can."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgpipe import config, topology
from imgpipe.config import PipelineSettings, SettingsError

DEFINITION = json.loads((Path(__file__).resolve().parents[2] / topology.STATE_MACHINE_FILE).read_text())
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
