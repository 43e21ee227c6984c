"""The local stand-ins for Lambda and API Gateway behave as the AWS services do at their edges."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.test import Client as WsgiClient

from imgpipe.local.apigw import api_gateway_app
from imgpipe.local.lambdas import LambdaService, LocalFunction, function_name_from
from imgpipe.topology import Step

ARN = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-api"


@pytest.mark.parametrize(
    "given",
    [
        "imgpipe-api",
        ARN,
        f"{ARN}:$LATEST",
        "123456789012:function:imgpipe-api",
        "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aimgpipe-api",
    ],
)
def test_function_name_accepts_names_and_arns_like_lambda(given: str):
    assert function_name_from(given) == "imgpipe-api"


def service(handler, timeout_s: int = 5) -> LambdaService:
    step = Step("api", memory_mb=128, timeout_s=timeout_s, description="test")
    return LambdaService([LocalFunction(step, "imgpipe-api", ARN, handler=handler)])


def test_a_raised_exception_is_reported_as_an_unhandled_function_error_with_its_type():
    def handler(event, context):
        raise ValueError("bad input")

    result = service(handler).invoke("imgpipe-api", {})
    assert result.error_type == "Unhandled"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "bad input"


def test_a_function_that_runs_past_its_timeout_is_reported_as_timed_out():
    release = threading.Event()

    def handler(event, context):
        release.wait(10)

    try:
        result = service(handler, timeout_s=0.2).invoke("imgpipe-api", {})
    finally:
        release.set()
    assert result.error_type == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"


def test_the_invoke_api_answers_for_our_functions_and_passes_the_rest_on():
    def handler(event, context):
        return {"echo": event, "function": context.function_name}

    def downstream(environ, start_response):
        start_response("418 I'm a teapot", [])
        return [b"moto"]

    app = WsgiClient(service(handler).wsgi(downstream))
    ours = app.post("/2015-03-31/functions/imgpipe-api/invocations", data=json.dumps({"a": 1}))
    assert ours.status_code == 200
    assert ours.json == {"echo": {"a": 1}, "function": "imgpipe-api"}
    assert app.post("/2015-03-31/functions/someone-else/invocations", data="{}").status_code == 418
    assert app.get("/imgpipe-input?list-type=2").status_code == 418


def ok_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(
            {"path": event["path"], "resource": event["resource"], "id": (event["pathParameters"] or {}).get("imageId")}
        ),
    }


def test_api_gateway_builds_rest_proxy_events_for_the_two_routes():
    app = WsgiClient(api_gateway_app(service(ok_handler), "imgpipe-api"))
    query = "filename=a.jpg&contentType=image/jpeg&size=1"
    assert app.get(f"/upload-url?{query}").json == {"path": "/upload-url", "resource": "/upload-url", "id": None}
    assert app.get("/images/abc").json == {"path": "/images/abc", "resource": "/images/{imageId}", "id": "abc"}
    assert app.get("/images/abc/extra").status_code == 403
    assert app.post("/upload-url").status_code == 403


def test_api_gateway_validates_required_query_parameters_before_the_function():
    calls = []
    app = WsgiClient(api_gateway_app(service(lambda e, c: calls.append(e) or ok_handler(e, c)), "imgpipe-api"))
    response = app.get("/upload-url?filename=a.jpg")
    assert response.status_code == 400
    assert response.json == {
        "error": {"code": "INVALID_REQUEST", "message": "Missing required request parameters: [contentType, size]"}
    }
    assert calls == []


def test_api_gateway_requires_the_api_key_when_one_is_set():
    app = WsgiClient(api_gateway_app(service(ok_handler), "imgpipe-api", api_key="s3cret"))
    assert app.get("/upload-url").status_code == 403
    assert app.get("/upload-url").json == {"message": "Forbidden"}
    assert app.get("/upload-url", headers={"x-api-key": "wrong"}).status_code == 403
    assert app.get("/images/abc", headers={"x-api-key": "s3cret"}).status_code == 200


def test_api_gateway_turns_a_crashed_handler_into_502():
    def crash(event, context):
        raise RuntimeError("boom")

    response = WsgiClient(api_gateway_app(service(crash), "imgpipe-api")).get("/images/abc")
    assert response.status_code == 502
    assert response.json == {"message": "Internal server error"}


def test_moto_tuning_takes_with_the_pinned_moto_and_is_idempotent():
    from moto import backends
    from moto.core import responses
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
        StateTaskServiceLambda,
    )
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    from imgpipe.local import moto_patches

    def patched():
        return (
            ExecutionWorker._get_evaluation_entrypoint, json_path.parse, backends.list_of_moto_modules,
            lambda_eval_utils.boto_client_for, responses.method_names_from_class,
            StateTaskServiceLambda._from_error, BaseExecutionWorkerCommunication.terminated,
        )  # fmt: skip

    every = dict.fromkeys(
        ("definitions", "jsonpaths", "modules", "clients", "method_names", "lambda_unknown", "finished_executions"),
        True,
    )
    assert moto_patches.tune_moto() == every
    first = patched()
    assert moto_patches.tune_moto() == every
    assert patched() == first  # not wrapped twice


def test_the_interpreter_parses_a_definition_once_and_gives_each_execution_its_own_program(monkeypatch):
    from types import SimpleNamespace

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    from imgpipe.local import moto_patches

    parsed: list[str] = []
    real_parse = AmazonStateLanguageParser.parse
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(lambda d: parsed.append(d) or real_parse(d)))
    moto_patches.tune_moto()
    definition = json.dumps(
        {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "Comment": "parse-once test", "End": True}}}
    )
    worker = SimpleNamespace(
        _evaluation_details=SimpleNamespace(state_machine_details=SimpleNamespace(definition=definition))
    )

    first = ExecutionWorker._get_evaluation_entrypoint(worker)
    second = ExecutionWorker._get_evaluation_entrypoint(worker)
    assert parsed == [definition]
    assert type(first) is type(second) and first is not second
    assert first.states is not second.states  # per-execution state can never leak between executions


def test_jsonpaths_are_compiled_once_and_still_find_per_document():
    from moto.stepfunctions.parser.asl.utils import json_path

    from imgpipe.local import moto_patches

    moto_patches.tune_moto()
    assert json_path.parse("$.detail.object.key") is json_path.parse("$.detail.object.key")
    assert json_path.extract_json("$.detail.object.key", {"detail": {"object": {"key": "a"}}}) == "a"
    assert json_path.extract_json("$.detail.object.key", {"detail": {"object": {"key": "b"}}}) == "b"


def test_moto_routes_requests_without_rescanning_its_package():
    from moto import backends

    from imgpipe.local import moto_patches

    moto_patches.tune_moto()
    modules = backends.list_of_moto_modules()
    assert {"s3", "dynamodb", "stepfunctions", "sqs", "events"} <= set(modules)
    assert backends.list_of_moto_modules() is modules


def test_the_interpreter_shares_one_client_per_service_whatever_credentials_a_task_carries():
    # moto hands every Task its execution role's credentials; a client per Task cost ~3 ms of the
    # emulator's interpreter lock each, ~7 per image.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials

    from imgpipe.local import moto_patches

    moto_patches.tune_moto()
    role = StateCredentials(role_arn="arn:aws:iam::123456789012:role/pipeline")
    first = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda", state_credentials=role)
    second = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda", state_credentials=role)
    other = lambda_eval_utils.boto_client_for(region="us-east-1", service="dynamodb", state_credentials=role)
    assert first is second
    assert other is not first and other.meta.service_model.service_name == "dynamodb"
