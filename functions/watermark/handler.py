from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.contracts import WatermarkInput, WatermarkOutput
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import Runtime, default_runtime

from .logic import discard_if_deleted, load_logo, watermark_renditions


@logger.inject_lambda_context(correlation_id_path="imageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: WatermarkInput, context: LambdaContext, runtime: Runtime | None = None) -> WatermarkOutput:
    runtime = runtime or default_runtime()
    bucket = runtime.resources.output_bucket
    if "logo" not in runtime.memo:  # read once per container, not per image
        runtime.memo["logo"] = load_logo(runtime.store, runtime.settings, bucket)
    result = watermark_renditions(event, runtime.store, runtime.settings, bucket, runtime.memo["logo"])
    discard_if_deleted(event, result, runtime.images, runtime.store, bucket)
    metrics.add_metric(name="RenditionsWritten", unit="Count", value=len(result["renditions"]))
    return result
