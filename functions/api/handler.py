import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.config import API_CORS_ALLOW_ORIGIN, API_ROUTES
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import default_runtime

from .logic import Api, BadRequest, image_status, issue_upload_url

# API Gateway has already matched the request to one of config.API_ROUTES and validated its required
# parameters, so the handler dispatches on that resource.  Powertools' APIGatewayRestResolver would
# match the path a second time, and importing it costs ~33 ms of this function's ~190 ms cold start
# (docs/decisions.md, "API handler dispatches on API Gateway's resource").
JSON_HEADERS = {"Content-Type": "application/json", "Access-Control-Allow-Origin": API_CORS_ALLOW_ORIGIN}

Query = dict[str, str]
Operation = Callable[[Query, dict[str, str]], tuple[int, dict[str, Any]]]


def default_api() -> Api:  # cheap: the runtime beneath is built once per container
    rt = default_runtime()
    return Api(rt.settings, rt.resources.input_bucket, rt.resources.output_bucket, rt.images, rt.store)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@tracer.capture_method
def upload_url(query: Query, _: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = issue_upload_url(default_api(), query.get("filename"), query.get("contentType"), query.get("size"))
    metrics.add_metric(name="UploadUrlsIssued", unit="Count", value=1)
    return 200, result


@tracer.capture_method
def get_image(_: Query, path: dict[str, str]) -> tuple[int, dict[str, Any]]:
    image_id = path.get("imageId", "")
    view = image_status(default_api(), image_id)
    metrics.add_metric(name="ImageStatusRead", unit="Count", value=1)
    if view is None:
        return 404, error_body("IMAGE_NOT_FOUND", f"no image {image_id}")
    return 200, view


# What serves each operation of config.API_ROUTES (its operationId in docs/openapi.yaml); the routes
# themselves (method, resource) are written only there.
OPERATIONS: dict[str, Operation] = {
    "getUploadUrl": upload_url,
    "getImage": get_image,
}
ROUTES: dict[tuple[str, str], Operation] = {
    (route.method, route.resource): OPERATIONS[route.operation] for route in API_ROUTES
}


def respond(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    route = ROUTES.get((event.get("httpMethod", ""), event.get("resource", "")))
    if route is None:
        return 404, error_body("NOT_FOUND", "no such route")
    try:
        return route(event.get("queryStringParameters") or {}, event.get("pathParameters") or {})
    except BadRequest as exc:
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        return 400, error_body(exc.code, exc.message)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status, body = respond(event)
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(body, separators=(",", ":"))}
