from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import default_runtime

from .logic import Api, BadRequest, image_status, issue_upload_url

app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=300))


def default_api() -> Api:  # cheap: the runtime beneath is built once per container
    rt = default_runtime()
    return Api(rt.settings, rt.resources.input_bucket, rt.resources.output_bucket, rt.images, rt.store)


def error_response(status: int, code: str, message: str) -> Response:
    return Response(status, "application/json", body={"error": {"code": code, "message": message}})


@app.exception_handler(BadRequest)
def bad_request(exc: BadRequest) -> Response:
    metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
    return error_response(400, exc.code, exc.message)


@app.not_found
def not_found(_: Exception) -> Response:
    return error_response(404, "NOT_FOUND", "no such route")


@app.get("/upload-url")
@tracer.capture_method
def upload_url() -> dict[str, Any]:
    query = app.current_event.query_string_parameters or {}
    result = issue_upload_url(default_api(), query.get("filename"), query.get("contentType"), query.get("size"))
    metrics.add_metric(name="UploadUrlsIssued", unit="Count", value=1)
    return result


@app.get("/images/<image_id>")
@tracer.capture_method
def get_image(image_id: str) -> Any:
    view = image_status(default_api(), image_id)
    metrics.add_metric(name="ImageStatusRead", unit="Count", value=1)
    if view is None:
        return error_response(404, "IMAGE_NOT_FOUND", f"no image {image_id}")
    return view


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
