"""Shared constants and helpers of the infrastructure tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imgpipe.paths import checkout_root

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "16,18,20")

REPO_ROOT = checkout_root()
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

STACK_NAME = "Imgpipe"
SECOND_STACK_NAME = "ImgpipeStaging"  # a second copy in the same account and region
# Context the session synthesis runs with (merged over cdk.json's context, as the CLI would).
SETTINGS = {
    "renditions": [
        {"name": "large", "long_edge": 2048, "format": "webp", "quality": 80},
        {"name": "thumb", "long_edge": 256},
    ],
    "watermark": {"text": "(c) test", "logo_key": "branding/logo.png"},
    "upload_url_ttl": 600,
    # Several origins: the API's preflight then chooses among them, and its errors copy the Origin.
    "cors_allowed_origins": ["https://app.example.test", "http://localhost:8080"],
}
LOG_RETENTION_DAYS = 14
CONTEXT = {
    "aws:cdk:bundling-stacks": [],
    "imgpipe:settings": SETTINGS,
    "imgpipe:logRetentionDays": LOG_RETENTION_DAYS,
}
# Per-user access and a custom domain for the renditions (conftest.jwt_synth).
CDN_DOMAIN = "img.example.test"
CDN_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
JWT_CONTEXT = {
    **CONTEXT,
    "imgpipe:settings": {**SETTINGS, "auth": "jwt"},
    "imgpipe:cdnDomain": CDN_DOMAIN,
    "imgpipe:cdnCertificateArn": CDN_CERTIFICATE_ARN,
}
ALARM_EMAIL = "ops@example.test"
# The second stack: the same settings, the operations context set (an alarm subscriber, no reserved
# concurrency, as a new account with a low concurrency limit deploys it).
SECOND_CONTEXT = {**CONTEXT, "imgpipe:alarmEmail": ALARM_EMAIL, "imgpipe:reservedConcurrency": "off"}


@dataclass
class Synth:
    app: Any  # aws_cdk.App
    stack: Any  # stacks.pipeline_stack.PipelineStack
    outdir: Path
    template: dict[str, Any]
    template_path: Path
    seconds: float

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def resource(self, logical_id: str) -> dict[str, Any]:
        return self.template["Resources"][logical_id]

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's CloudFormation resource."""
        return self.stack.get_logical_id(construct.node.default_child)

    def state_machine_definition(self) -> dict[str, Any]:
        """The definition as CloudFormation hands it to Step Functions: the shipped ASL asset with the
        template's DefinitionSubstitutions filled, intrinsics (ARNs, the table) shown as their JSON."""
        import json
        import re

        (machine,) = self.resources("AWS::StepFunctions::StateMachine").values()
        props = machine["Properties"]
        key = props["DefinitionS3Location"]["Key"]
        manifest = json.loads((self.outdir / f"{self.stack.stack_name}.assets.json").read_text())
        (asset,) = [a for a in manifest["files"].values() if key in json.dumps(a["destinations"])]
        text = (self.outdir / asset["source"]["path"]).read_text()
        values = {
            name: value if isinstance(value, str) else json.dumps(value, sort_keys=True).replace('"', "'")
            for name, value in props["DefinitionSubstitutions"].items()
        }
        return json.loads(re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text))
