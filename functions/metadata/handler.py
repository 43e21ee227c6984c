from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.contracts import MetadataInput, MetadataOutput
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import Runtime, default_runtime

from .logic import record_image


@logger.inject_lambda_context(correlation_id_path="imageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: MetadataInput, context: LambdaContext, runtime: Runtime | None = None) -> MetadataOutput:
    runtime = runtime or default_runtime()
    result = record_image(event, runtime.images)
    metrics.add_metric(name="ImagesCompleted", unit="Count", value=1 if result["status"] == "COMPLETE" else 0)
    return result
