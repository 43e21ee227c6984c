"""CORS from one setting (PipelineSettings.cors_allowed_origins) and one set of rules (imgpipe.topology):
the API function's answers, the local API Gateway's preflight and errors, and the local S3's evaluation
of a bucket's rules, which follows S3's own."""

from __future__ import annotations

import pytest
from werkzeug.test import Client as WsgiClient
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from imgpipe import config, topology
from imgpipe.config import PipelineSettings, SettingsError, cors_allow_origin
from imgpipe.local import apigw, s3_access

APP = "https://app.example.test"
DEV = "http://localhost:8080"


# ---- the setting ------------------------------------------------------------------------------------
def test_allowed_origins_default_to_any_page_and_survive_the_json_round_trip():
    assert PipelineSettings().cors_allowed_origins == ("*",)
    settings = PipelineSettings.from_json(f'{{"cors_allowed_origins": ["{APP}", "{DEV}"]}}')
    assert settings.cors_allowed_origins == (APP, DEV)
    assert PipelineSettings.from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    ("origins", "complaint"),
    [
        ([], "at least one origin"),
        (["*", APP], "list it alone"),
        (["https://App.example.test"], "lower case"),
        ([APP + "/"], "no path or trailing slash"),
        (["https://*.example.test"], "not an origin"),  # API Gateway's preflight compares literally
        (["app.example.test"], "not an origin"),
        ([3], "list of strings"),
        ("*", "must be a list"),
    ],
)
def test_allowed_origins_that_no_browser_would_match_are_refused_with_the_reason(origins, complaint):
    with pytest.raises(SettingsError, match=complaint):
        PipelineSettings.from_mapping({"cors_allowed_origins": origins})


def test_the_api_answers_any_page_with_a_star_and_otherwise_only_the_allowed_ones():
    assert cors_allow_origin(("*",), "https://anywhere.test") == "*"
    assert cors_allow_origin(("*",), None) == "*"
    assert cors_allow_origin((APP, DEV), DEV) == DEV
    assert cors_allow_origin((APP, DEV), "https://evil.test") is None
    assert cors_allow_origin((APP,), None) is None


# ---- the API function -------------------------------------------------------------------------------
@pytest.fixture
def api_function(monkeypatch):
    from imgpipe.runtime import default_runtime

    settings = PipelineSettings(cors_allowed_origins=(APP, DEV))
    for key, value in {
        config.ENV_INPUT_BUCKET: "in", config.ENV_OUTPUT_BUCKET: "out", config.ENV_TABLE: "images",
        config.ENV_SETTINGS: settings.to_json(), "AWS_DEFAULT_REGION": "us-east-1",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    default_runtime.cache_clear()
    from functions.api import handler

    yield handler
    default_runtime.cache_clear()


@pytest.mark.parametrize("header", ["Origin", "origin"])  # HTTP/2 clients send it in lower case
def test_the_api_function_echoes_an_allowed_origin_and_varies_on_it(api_function, header):
    headers = api_function.response_headers({"headers": {header: DEV}})
    assert headers["Access-Control-Allow-Origin"] == DEV
    assert headers["Vary"] == "Origin"


def test_the_api_function_gives_a_page_on_another_origin_no_cors_header(api_function):
    headers = api_function.response_headers({"headers": {"Origin": "https://evil.test"}})
    assert "Access-Control-Allow-Origin" not in headers
    assert headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in api_function.response_headers({"headers": None})


# ---- the local API Gateway --------------------------------------------------------------------------
def test_the_local_preflight_answers_as_cdk_builds_it_for_several_origins():
    first = apigw.preflight((APP, DEV), "https://evil.test")
    assert first.status_code == 204
    assert first.headers["Access-Control-Allow-Origin"] == APP  # the first origin: the browser refuses it
    assert first.headers["Vary"] == "Origin"
    assert apigw.preflight((APP, DEV), DEV).headers["Access-Control-Allow-Origin"] == DEV
    assert apigw.preflight(("*",), DEV).headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in apigw.preflight(("*",), DEV).headers
    allowed_methods = apigw.preflight(("*",)).headers["Access-Control-Allow-Methods"].split(",")
    assert {route.method for route in config.API_ROUTES} < set(allowed_methods)


def test_the_local_gateway_errors_carry_the_origin_the_deployed_gateway_responses_do():
    def request(origin: str | None) -> Request:
        return Request(EnvironBuilder(headers={"Origin": origin} if origin else {}).get_environ())

    assert apigw.gateway_cors(("*",), request(DEV)) == {"Access-Control-Allow-Origin": "*"}
    assert apigw.gateway_cors((APP,), request(DEV)) == {"Access-Control-Allow-Origin": APP}
    assert apigw.gateway_cors((APP, DEV), request(DEV)) == {"Access-Control-Allow-Origin": DEV, "Vary": "Origin"}
    assert apigw.gateway_cors((APP, DEV), request(None)) == {"Vary": "Origin"}


def test_a_local_gateway_error_is_readable_by_an_allowed_page():
    from tests.unit.test_local_services import ok_handler, service

    app = WsgiClient(
        apigw.api_gateway_app(service(ok_handler), "imgpipe-api", api_key="k", cors_allowed_origins=(APP,))
    )
    response = app.get("/upload-url", headers={"Origin": APP})
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == APP


# ---- the local S3's evaluation of a bucket's CORS rules ------------------------------------------------
def rules(origins: tuple[str, ...], cors: topology.BucketCors = topology.INPUT_BUCKET_CORS) -> list[s3_access.CorsRule]:
    (rule,) = cors.s3_rules(origins)
    return [
        s3_access.CorsRule(
            tuple(rule["AllowedOrigins"]),
            tuple(rule["AllowedMethods"]),
            tuple(rule.get("AllowedHeaders", ())),
            tuple(rule["ExposeHeaders"]),
            rule["MaxAgeSeconds"],
        )
    ]


def preflight_environ(origin: str | None, method: str | None, headers: str | None = None) -> dict:
    environ = {"REQUEST_METHOD": "OPTIONS", "PATH_INFO": "/imgpipe-input/uploads/abc/a.jpg"}
    for key, value in (
        ("HTTP_ORIGIN", origin),
        ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", method),
        ("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", headers),
    ):
        if value is not None:
            environ[key] = value
    return environ


def test_a_preflight_for_the_upload_gets_the_rule_headers_with_the_requested_headers_echoed():
    refusal, headers = s3_access.preflight(
        preflight_environ(DEV, "PUT", "content-type,if-none-match"), rules((APP, DEV))
    )
    assert refusal is None
    assert dict(headers) == {
        "Access-Control-Allow-Origin": DEV,
        "Access-Control-Allow-Credentials": "true",  # S3 adds it whenever it names the origin
        "Access-Control-Allow-Methods": "PUT",
        "Access-Control-Allow-Headers": "content-type, if-none-match",
        "Access-Control-Expose-Headers": "ETag",
        "Access-Control-Max-Age": "3000",
        "Vary": s3_access.CORS_VARY,
    }


def test_a_rule_for_any_origin_answers_with_a_star_and_no_credentials():
    refusal, headers = s3_access.preflight(preflight_environ(DEV, "PUT", "Content-Type"), rules(("*",)))
    assert refusal is None
    assert dict(headers)["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in dict(headers)


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.test", "PUT", "content-type"),  # origin not allowed
        (APP.upper(), "PUT", "content-type"),  # origins compare exactly, as S3 does
        (DEV, "DELETE", None),  # method not allowed
        (DEV, "PUT", "content-type,x-amz-acl"),  # a header the rule does not allow
        (DEV, "put", None),  # methods are case-sensitive
    ],
)
def test_a_preflight_no_rule_allows_is_refused_with_s3s_cors_error(origin, method, headers):
    refusal, cors = s3_access.preflight(preflight_environ(origin, method, headers), rules((APP, DEV)))
    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.message) == (403, "AccessForbidden", s3_access.CORS_NOT_ALLOWED)
    assert refusal.details == {"Method": method, "ResourceType": "OBJECT"}
    assert cors == []


def test_a_preflight_without_origin_or_method_or_to_a_bucket_without_cors_is_refused_as_s3_does():
    assert s3_access.preflight(preflight_environ(None, "PUT"), rules(("*",)))[0].status == 400
    assert s3_access.preflight(preflight_environ(DEV, None), rules(("*",)))[0].status == 400
    refusal, _ = s3_access.preflight(preflight_environ(DEV, "PUT"), None)
    assert (refusal.status, refusal.message) == (403, "CORSResponse: CORS is not enabled for this bucket.")


def test_origins_and_headers_may_hold_one_wildcard_as_in_s3():
    wildcard = [s3_access.CorsRule(("https://*.example.test",), ("GET",), ("x-amz-meta-*",))]
    assert s3_access.matching_rule(wildcard, "https://cdn.example.test", "GET", ["x-amz-meta-owner"])
    assert not s3_access.matching_rule(wildcard, "https://example.test.evil", "GET")
    assert not s3_access.matching_rule(wildcard, "https://cdn.example.test", "GET", ["x-amz-acl"])


def test_the_first_matching_rule_wins():
    first = s3_access.CorsRule((APP,), ("GET",), max_age_seconds=1)
    second = s3_access.CorsRule(("*",), ("GET", "PUT"), max_age_seconds=2)
    assert s3_access.matching_rule([first, second], APP, "GET") is first
    assert s3_access.matching_rule([first, second], DEV, "GET") is second
    assert s3_access.matching_rule([first, second], APP, "PUT") is second
