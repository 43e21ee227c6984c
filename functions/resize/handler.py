from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.contracts import ResizeInput, ResizeOutput
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import Runtime, default_runtime

from .logic import resize_image


@logger.inject_lambda_context(correlation_id_path="imageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: ResizeInput, context: LambdaContext, runtime: Runtime | None = None) -> ResizeOutput:
    runtime = runtime or default_runtime()
    result = resize_image(event, runtime.store, runtime.settings, runtime.resources.output_bucket)
    metrics.add_metric(
        name="OriginalPixels", unit="Count", value=result["original"]["width"] * result["original"]["height"]
    )
    return result
