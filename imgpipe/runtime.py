"""What every function builds once per container: its settings, resource names and adapters.

Built lazily on the first invocation (the cold start) and validated there, so a misconfigured
function fails loudly on its first event instead of half-working; tests inject their own instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from imgpipe.adapters import DynamoImages, ExecutionHistory, S3Store, StepFunctionsHistory, execution_history
from imgpipe.config import ENV_HISTORY_LOG_GROUP, PipelineSettings, Resources


@dataclass
class Runtime:
    settings: PipelineSettings
    resources: Resources
    store: S3Store
    images: DynamoImages
    history: ExecutionHistory = field(default_factory=StepFunctionsHistory)  # the API's execution view
    memo: dict[str, Any] = field(default_factory=dict)  # per-container caches (e.g. the watermark logo)


@cache
def default_runtime() -> Runtime:
    resources = Resources.from_env()
    return Runtime(
        PipelineSettings.from_env(),
        resources,
        S3Store(),
        DynamoImages(resources.table),
        execution_history(os.environ.get(ENV_HISTORY_LOG_GROUP)),
    )
