"""The pipeline's shape, for the CDK stack and the local runtime: the functions with their memory
and timeouts, the state machine file and its substitutions, the trigger's event pattern, the API
stage and CORS preflight.  Never shipped to Lambda: the functions read what they need at run time
from ``imgpipe.config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgpipe.config import PROJECT, UPLOAD_PREFIX

WORK_EXPIRY_DAYS = 1  # lifecycle rule on the work/ prefix of the output bucket


@dataclass(frozen=True)
class Step:
    """One Lambda function.  ``module`` is importable both locally (``functions.<module>``) and on
    Lambda, where the asset root is ``functions/`` and the handler string is ``<module>.handler``."""

    name: str
    memory_mb: int
    timeout_s: int
    description: str

    @property
    def package(self) -> str:
        return self.name  # functions/<name>/

    @property
    def lambda_handler(self) -> str:
        return f"{self.package}.handler.handler"

    @property
    def local_module(self) -> str:
        return f"functions.{self.package}.handler"

    @property
    def service_name(self) -> str:
        return f"{PROJECT}-{self.name}"


# Timeouts x attempts + backoff stay under config.EXPRESS_MAX_DURATION_S: an Express execution that
# hits its 5-minute limit ends without running the failure branch (tests/unit/test_config.py).
# Memory is sized from the pixel limit (a 50 MP RGBA frame is 200 MB; see docs/performance.md).
RESIZE = Step("resize", memory_mb=1769, timeout_s=30, description="Decode, orient and resize to lossless intermediates")
WATERMARK = Step("watermark", memory_mb=1024, timeout_s=30, description="Watermark and encode the renditions")
METADATA = Step("metadata", memory_mb=256, timeout_s=10, description="Write the image record")
API = Step("api", memory_mb=256, timeout_s=10, description="Presigned upload URLs and image status")
STEPS = (RESIZE, WATERMARK, METADATA, API)
WORKFLOW_STEPS = (RESIZE, WATERMARK, METADATA)

# Substitution keys used in statemachine/pipeline.asl.json; the stack and the local runtime both
# fill them from definition_substitutions().
STATE_MACHINE_FILE = "statemachine/pipeline.asl.json"


def definition_substitutions(function_arns: Mapping[str, str], table_name: str) -> dict[str, str]:
    subs = {f"{step.name.capitalize()}FunctionArn": function_arns[step.name] for step in WORKFLOW_STEPS}
    subs["TableName"] = table_name
    return subs


API_STAGE = "prod"
# CORS preflight, answered by API Gateway itself (stacks/api.py) and by the local twin alike.
API_CORS_ALLOW_HEADERS = ("Content-Type", "X-Api-Key")
API_CORS_ALLOW_METHODS = ("GET", "OPTIONS")
API_CORS_MAX_AGE_S = 600
STATE_MACHINE_LOG_GROUP_OUTPUT = "StateMachineLogGroup"  # the stack output `imgpipe history --stack` reads


def object_created_pattern(input_bucket: str) -> dict[str, Any]:
    """The EventBridge pattern that starts the state machine (the CDK rule and the local rule)."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [input_bucket]},
            "object": {"key": [{"prefix": UPLOAD_PREFIX}]},
        },
    }
