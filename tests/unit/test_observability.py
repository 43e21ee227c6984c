"""Logger/Tracer/Metrics: the Tracer stays cheap to import while tracing is off, and traces botocore when on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgpipe import observability

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter (the Tracer's config and sys.modules are process-wide)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_LAMBDA_", "POWERTOOLS_", "AWS_SAM_", "AWS_CHALICE"))}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**base, "AWS_DEFAULT_REGION": "us-east-1", **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
from imgpipe.observability import tracer, NoTracing
print(json.dumps({
    "no_tracing": isinstance(tracer.provider, NoTracing),
    "disabled": bool(tracer.disabled),
    "xray_core_imported": "aws_xray_sdk.core" in sys.modules,
    "patched": sorted(getattr(sys.modules.get("aws_xray_sdk.core.patcher"), "_PATCHED_MODULES", [])),
}))
"""


def test_outside_lambda_tracing_is_off_and_the_xray_sdk_is_never_imported():
    seen = _fresh(PROBE)

    assert seen == {"no_tracing": True, "disabled": True, "xray_core_imported": False, "patched": []}


def test_tracing_can_be_switched_off_inside_lambda_too():
    seen = _fresh(PROBE, LAMBDA_TASK_ROOT="/var/task", POWERTOOLS_TRACE_DISABLED="true")

    assert seen["no_tracing"] and not seen["xray_core_imported"]


def test_in_lambda_the_xray_recorder_traces_botocore_only():
    seen = _fresh(PROBE, LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="imgpipe-resize")

    assert seen == {"no_tracing": False, "disabled": False, "xray_core_imported": True, "patched": ["botocore"]}


def test_the_decorators_work_without_a_recorder():
    tracer = observability.tracer
    assert isinstance(tracer.provider, observability.NoTracing)  # the test process is not a Lambda

    @tracer.capture_lambda_handler
    def handler(event, context):
        return {"doubled": event["n"] * 2}

    @tracer.capture_method
    def failing():
        raise ValueError("boom")

    assert handler({"n": 21}, None) == {"doubled": 42}
    with pytest.raises(ValueError, match="boom"):
        failing()
