from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.adapters import EventBridgePublisher
from imgpipe.config import EVENT_SOURCE
from imgpipe.contracts import BatchResponse, StreamEvent
from imgpipe.events import stable_links
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import Runtime, default_runtime

from .logic import publish_changes


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: StreamEvent, context: LambdaContext, runtime: Runtime | None = None) -> BatchResponse:
    runtime = runtime or default_runtime()
    if "events" not in runtime.memo:  # one client and one URL builder per container
        runtime.memo["events"] = EventBridgePublisher(runtime.settings.event_bus_name, EVENT_SOURCE)
        runtime.memo["links"] = stable_links(runtime.settings, runtime.resources.output_bucket)
    result = publish_changes(event, runtime.memo["events"], runtime.memo["links"])
    metrics.add_metric(name="EventsNotPublished", unit="Count", value=len(result["batchItemFailures"]))
    return result
