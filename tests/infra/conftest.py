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
from infra_support import CONTEXT, SECOND_CONTEXT, SECOND_STACK_NAME, STACK_NAME, Synth


def synthesize(tmp_path_factory: pytest.TempPathFactory, stack_name: str, context: dict[str, Any]) -> Synth:
    from app import STACK_NAME_KEY, build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    app = build_app(context={**context, STACK_NAME_KEY: stack_name}, outdir=str(outdir))
    assembly = app.synth()  # raises if any cdk-nag finding is unacknowledged
    seconds = time.perf_counter() - started
    artifact = assembly.get_stack_by_name(stack_name)
    template_path = outdir / artifact.template_file
    stack = app.node.find_child(stack_name)
    return Synth(app, stack, outdir, json.loads(template_path.read_text()), template_path, seconds)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory, STACK_NAME, CONTEXT)


@pytest.fixture(scope="session")
def second_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """A second copy of the stack, as ``-c imgpipe:stackName=...`` deploys it into the same account
    and region (synthesized once per session, only by the tests that ask for it), with the operations
    context the first one leaves at its defaults (SECOND_CONTEXT)."""
    return synthesize(tmp_path_factory, SECOND_STACK_NAME, SECOND_CONTEXT)


@pytest.fixture(scope="session")
def template(synth: Synth) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synth.template)


@pytest.fixture(scope="session")
def jwt_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack with auth "jwt" and a custom CDN domain (infra_support.JWT_CONTEXT): the one extra
    synthesis of the session for the settings that change which resources exist."""
    from infra_support import JWT_CONTEXT

    return synthesize(tmp_path_factory, STACK_NAME, JWT_CONTEXT)
