#!/usr/bin/env python3
"""The CDK app.

* ``npx cdk synth|deploy|diff`` — cdk.json runs this file; normal CDK behaviour (the CLI chooses the
  output directory and which stacks get their assets bundled).
* ``python app.py --bundle`` (``make synth``) — synthesize straight into ``cdk.out/`` with every
  asset bundled, i.e. the image layer built locally (pip, no Docker), without needing the CLI.

cdk-nag's AwsSolutions and Serverless packs run on every synthesis; an unacknowledged finding fails it.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Node 20 (this machine) is past end-of-life for jsii; the warning is not actionable from here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "16,18,20")

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from imgpipe.paths import checkout_root
from stacks.pipeline_stack import DEFAULT_STACK_NAME, PipelineStack

REPO_ROOT = checkout_root()
STACK_NAME_KEY = "imgpipe:stackName"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags, imgpipe defaults), so a synth without the CLI — tests,
    ``make synth`` — sees exactly what ``cdk synth`` sees."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})
    return context


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> App:
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    stack_name = app.node.try_get_context(STACK_NAME_KEY) or DEFAULT_STACK_NAME
    PipelineStack(app, stack_name)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


def main(argv: list[str]) -> int:
    if "--bundle" in argv:
        outdir = REPO_ROOT / "cdk.out"
        assembly = build_app(outdir=str(outdir)).synth()
        for stack in assembly.stacks:
            print(f"{stack.stack_name}: {outdir / stack.template_file}")
        return 0
    build_app().synth()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
