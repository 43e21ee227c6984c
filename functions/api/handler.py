import json
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from imgpipe.adapters import cdn_invalidator
from imgpipe.config import API_ROUTES, ENV_SETTINGS, SHARED_OWNER, PipelineSettings, cors_allow_origin
from imgpipe.errors import TransientError
from imgpipe.observability import logger, metrics, tracer
from imgpipe.runtime import default_runtime

from .deletion import delete_image
from .execution import NoExecution, image_execution
from .listing import list_images
from .logic import Api, BadRequest
from .status import image_status
from .upload_url import issue_upload_url

# API Gateway has already matched the request to one of config.API_ROUTES and validated its required
# parameters, so the handler dispatches on that resource.  Powertools' APIGatewayRestResolver would
# match the path a second time, and importing it costs ~33 ms of this function's ~190 ms cold start
# (docs/decisions.md, "API handler dispatches on API Gateway's resource").
JSON_HEADERS = {"Content-Type": "application/json"}

Query = dict[str, str]
# (query, path parameters, the caller's owner) -> (status, body)
Operation = Callable[[Query, dict[str, str], str], tuple[int, dict[str, Any]]]
UNAUTHORIZED = {"message": "Unauthorized"}  # API Gateway's own answer to a missing or bad token


def default_api() -> Api:
    """Built once per container, in the runtime's memo: the invalidator's client and the rendition
    delivery (settings + environment) are not rebuilt on every request."""
    rt = default_runtime()
    if "api" not in rt.memo:
        rt.memo["api"] = Api(
            rt.settings,
            rt.resources.input_bucket,
            rt.resources.output_bucket,
            rt.images,
            rt.store,
            files=rt.store,
            invalidator=cdn_invalidator(rt.settings),
        )
    api: Api = rt.memo["api"]
    return api


IMAGE_NOT_FOUND_MESSAGE = "no such image"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def caller_owner(event: dict[str, Any], settings: PipelineSettings) -> str | None:
    """Whose images this request may see: the token's ``sub`` with ``auth: jwt`` (API Gateway's
    Cognito authorizer has verified the token and put its claims here), the one shared owner with
    ``auth: apiKey``.  None: a jwt request without claims, which only a misconfigured API can send."""
    if settings.auth == "apiKey":
        return SHARED_OWNER
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    sub = (authorizer.get("claims") or {}).get("sub")
    return sub if isinstance(sub, str) and sub else None


@tracer.capture_method
def upload_url(query: Query, _: dict[str, str], owner: str) -> tuple[int, dict[str, Any]]:
    result = issue_upload_url(
        default_api(), query.get("filename"), query.get("contentType"), query.get("size"), owner=owner
    )
    metrics.add_metric(name="UploadUrlsIssued", unit="Count", value=1)
    return 200, result


@tracer.capture_method
def get_image(_: Query, path: dict[str, str], owner: str) -> tuple[int, dict[str, Any]]:
    image_id = path.get("imageId", "")
    view = image_status(default_api(), image_id, owner=owner)
    metrics.add_metric(name="ImageStatusRead", unit="Count", value=1)
    if view is None:
        # Unknown, malformed (never looked up) and another owner's alike; the id is not echoed.
        return 404, error_body("IMAGE_NOT_FOUND", IMAGE_NOT_FOUND_MESSAGE)
    return 200, view


@tracer.capture_method
def images_page(query: Query, _: dict[str, str], owner: str) -> tuple[int, dict[str, Any]]:
    page = list_images(
        default_api(), owner=owner, limit=query.get("limit"), cursor=query.get("cursor"), status=query.get("status")
    )
    metrics.add_metric(name="ImagesListed", unit="Count", value=len(page["items"]))
    return 200, page


@tracer.capture_method
def remove_image(_: Query, path: dict[str, str], owner: str) -> tuple[int, dict[str, Any]]:
    try:
        deleted = delete_image(default_api(), path.get("imageId", ""), owner=owner)
    except TransientError:
        # The tombstone is written, so the image is gone for every reader; what is left (its files)
        # is finished by the client's next DELETE.
        logger.exception("delete interrupted; the next DELETE finishes it")
        return 503, error_body(
            "DELETE_INCOMPLETE", "The image is deleted but its files are not all removed yet; repeat the DELETE."
        )
    if not deleted:
        return 404, error_body("IMAGE_NOT_FOUND", IMAGE_NOT_FOUND_MESSAGE)
    metrics.add_metric(name="ImagesDeleted", unit="Count", value=1)
    return 204, {}


@tracer.capture_method
def get_execution(_: Query, path: dict[str, str], owner: str) -> tuple[int, dict[str, Any]]:
    try:
        view = image_execution(default_api(), path.get("imageId", ""), default_runtime().history, owner=owner)
    except NoExecution as exc:
        return 404, error_body("EXECUTION_NOT_FOUND", f"No execution has processed this image yet (it is {exc}).")
    except TransientError:  # CloudWatch Logs throttles FilterLogEvents per account
        logger.exception("execution history unavailable")
        return 503, error_body("HISTORY_UNAVAILABLE", "The execution's history cannot be read right now; try again.")
    metrics.add_metric(name="ExecutionRead", unit="Count", value=1)
    if view is None:
        return 404, error_body("IMAGE_NOT_FOUND", IMAGE_NOT_FOUND_MESSAGE)
    return 200, view


# What serves each operation of config.API_ROUTES (its operationId in docs/openapi.yaml); the routes
# themselves (method, resource) are written only there.
OPERATIONS: dict[str, Operation] = {
    "getUploadUrl": upload_url,
    "getImage": get_image,
    "getImageExecution": get_execution,
    "listImages": images_page,
    "deleteImage": remove_image,
}
ROUTES: dict[tuple[str, str], Operation] = {
    (route.method, route.resource): OPERATIONS[route.operation] for route in API_ROUTES
}


def respond(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    route = ROUTES.get((event.get("httpMethod", ""), event.get("resource", "")))
    if route is None:
        return 404, error_body("NOT_FOUND", "no such route")
    owner = caller_owner(event, default_runtime().settings)
    if owner is None:
        return 401, UNAUTHORIZED
    try:
        return route(event.get("queryStringParameters") or {}, event.get("pathParameters") or {}, owner)
    except BadRequest as exc:
        metrics.add_metric(name="RequestsRejected", unit="Count", value=1)
        return 400, error_body(exc.code, exc.message)


@lru_cache(maxsize=1)
def _allowed_origins(settings_json: str | None) -> tuple[str, ...]:
    # From the settings alone (not the whole runtime): even an answer that needs no AWS resource, such
    # as a 404 for an unknown route, carries the right CORS origin.
    return PipelineSettings.from_json(settings_json).cors_allowed_origins if settings_json else ("*",)


def response_headers(event: dict[str, Any]) -> dict[str, str]:
    """JSON, with the CORS origin for the caller's page (settings.cors_allowed_origins): a page on an
    origin not allowed gets no Access-Control-Allow-Origin, so its browser refuses the answer."""
    allowed = _allowed_origins(os.environ.get(ENV_SETTINGS))
    origin = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "origin"), None)
    headers = dict(JSON_HEADERS)
    if allow := cors_allow_origin(allowed, origin):
        headers["Access-Control-Allow-Origin"] = allow
    if allowed != ("*",):
        headers["Vary"] = "Origin"  # the answer differs by origin: caches must not share it
    return headers


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status, body = respond(event)
    text = "" if status == 204 else json.dumps(body, separators=(",", ":"))  # 204: no body at all
    return {"statusCode": status, "headers": response_headers(event), "body": text}
