"""Fixtures for the infrastructure tests: one synthesis of the CDK app per session.

The synthesis skips asset bundling (context ``aws:cdk:bundling-stacks`` = ``[]``), so the image
layer is not built here; test_infra_layer.py builds it for real.  The app is synthesized with
non-default context (infra_support.CONTEXT) so the tests can see context reach the resources.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from infra_support import CONTEXT, STACK_NAME, Synth


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    app = build_app(context=CONTEXT, outdir=str(outdir))
    assembly = app.synth()  # raises if any cdk-nag finding is unacknowledged
    seconds = time.perf_counter() - started
    artifact = assembly.get_stack_by_name(STACK_NAME)
    template_path = outdir / artifact.template_file
    stack = app.node.find_child(STACK_NAME)
    return Synth(app, stack, outdir, json.loads(template_path.read_text()), template_path, seconds)


@pytest.fixture(scope="session")
def template(synth: Synth) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synth.template)
