"""API Gateway, locally: HTTP requests become REST API Lambda-proxy events for the same API handler.

The routes, the API-key check and the error shapes mirror the deployed REST API, so a client (or
``curl``) cannot tell the two apart except by the base URL.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from imgpipe.config import API_ROUTES, Route
from imgpipe.local.lambdas import LambdaService
from imgpipe.topology import API_CORS_ALLOW_HEADERS, API_CORS_ALLOW_METHODS, API_CORS_MAX_AGE_S, api_error_allow_origin

STAGE = "local"


def match_route(method: str, path: str) -> tuple[Route, dict[str, str] | None] | None:
    """The deployed API's resources; anything else gets API Gateway's own 403."""
    if method == "OPTIONS":
        method = "GET"  # CORS preflight is answered for every resource that has a GET
    parts = path.strip("/").split("/")
    for route in API_ROUTES:
        pattern = route.resource.strip("/").split("/")
        if route.method != method or len(pattern) != len(parts):
            continue
        pairs = list(zip(pattern, parts, strict=True))  # same length: checked above
        params = {p[1:-1]: v for p, v in pairs if p.startswith("{")}
        if all(p == v for p, v in pairs if not p.startswith("{")) and all(params.values()):
            return route, params or None
    return None


def proxy_event(
    request: Request,
    route: Route,
    path_parameters: dict[str, str] | None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    resource = route.resource
    query = parse_qs(request.query_string.decode(), keep_blank_values=True)
    body = request.get_data()
    is_text = not body or request.mimetype.startswith(("text/", "application/json"))
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": dict(request.headers.items()),
        "multiValueHeaders": {k: request.headers.getlist(k) for k, _ in request.headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": f"/{STAGE}{request.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
            **({"authorizer": {"claims": claims}} if claims is not None else {}),
        },
        "body": (body.decode() if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


def gateway_cors(allowed_origins: tuple[str, ...], request: Request) -> dict[str, str]:
    """The CORS headers of API Gateway's own answers (gateway responses, stacks/api.py)."""
    fixed = api_error_allow_origin(allowed_origins)
    if fixed is not None:
        return {"Access-Control-Allow-Origin": fixed}
    origin = request.headers.get("Origin")
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin else {"Vary": "Origin"}


def _gateway_error(status: int, message: str, cors: dict[str, str]) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json", headers=cors)


def preflight(allowed_origins: tuple[str, ...], origin: str | None = None) -> Response:
    """API Gateway's mock integration for OPTIONS, as CDK's add_cors_preflight builds it (stacks/api.py):
    the first allowed origin, replaced by the request's Origin when that is one of the others."""
    headers = {
        "Access-Control-Allow-Headers": ",".join(API_CORS_ALLOW_HEADERS),
        "Access-Control-Allow-Origin": allowed_origins[0],
        "Access-Control-Allow-Methods": ",".join(API_CORS_ALLOW_METHODS),
        "Access-Control-Max-Age": str(API_CORS_MAX_AGE_S),
    }
    if allowed_origins[0] != "*":
        headers["Vary"] = "Origin"
    if origin in allowed_origins[1:]:
        headers["Access-Control-Allow-Origin"] = origin
    return Response(status=204, headers=headers)


def _missing_parameters(route: Route, request: Request, cors: dict[str, str]) -> Response | None:
    """API Gateway's request validator: required query parameters must be present."""
    missing = [name for name in route.required_query if name not in request.args]
    if not missing:
        return None
    body = {
        "error": {"code": "INVALID_REQUEST", "message": f"Missing required request parameters: [{', '.join(missing)}]"}
    }
    return Response(
        json.dumps(body),
        status=400,
        content_type="application/json",
        headers=cors,
    )


# API Gateway's Cognito user pool authorizer: the Authorization header in, the token's claims out
# (None: no valid token, 401).  imgpipe.local.cognito.TokenVerifier.claims is the local one.
Authorizer = Callable[[str | None], dict[str, str] | None]


def api_gateway_app(
    lambdas: LambdaService,
    function_name: str,
    api_key: str | None = None,
    authorizer: Authorizer | None = None,
    cors_allowed_origins: tuple[str, ...] = ("*",),
) -> Callable[..., Any]:
    @Request.application
    def app(request: Request) -> Response:
        cors = gateway_cors(cors_allowed_origins, request)
        match = match_route(request.method, request.path)
        if match is None:
            return _gateway_error(403, "Missing Authentication Token", cors)
        if request.method == "OPTIONS":
            return preflight(cors_allowed_origins, request.headers.get("Origin"))
        if api_key is not None and request.headers.get("x-api-key") != api_key:
            return _gateway_error(403, "Forbidden", cors)
        claims = None
        if authorizer is not None:
            claims = authorizer(request.headers.get("Authorization"))
            if claims is None:
                return _gateway_error(401, "Unauthorized", cors)
        if invalid := _missing_parameters(match[0], request, cors):
            return invalid
        result = lambdas.invoke(function_name, proxy_event(request, *match, claims))
        if result.error_type:
            return _gateway_error(502, "Internal server error", cors)
        payload = result.payload
        body = payload.get("body") or ""
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
        response = Response(data, status=int(payload.get("statusCode", 200)))
        response.headers.clear()
        for name, value in (payload.get("headers") or {}).items():
            response.headers[name] = value
        for name, values in (payload.get("multiValueHeaders") or {}).items():
            response.headers.remove(name)
            for value in values:
                response.headers.add(name, value)
        response.headers.setdefault("Content-Type", "application/json")
        return response

    return app
