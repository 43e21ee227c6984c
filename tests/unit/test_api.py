from __future__ import annotations

import json
from datetime import UTC
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from moto import mock_aws

from functions.api.logic import Api, BadRequest
from functions.api.status import image_status
from functions.api.upload_url import issue_upload_url, sanitise_filename
from imgpipe import config
from imgpipe.errors import PUBLIC_ERRORS
from tests.fakes import FakeImages

SHARED = config.SHARED_OWNER  # the one owner of every image when auth is apiKey


class FakePresigner:
    def presign_put(self, bucket, key, content_type, content_length, expires_in):
        return f"https://{bucket}.s3/{key}?type={content_type}&length={content_length}&ttl={expires_in}"

    def presign_get(self, bucket, key, expires_in):
        return f"https://{bucket}.s3/{key}?ttl={expires_in}"


@pytest.fixture
def api() -> Api:
    return Api(config.PipelineSettings(delivery="presigned"), "in", "out", FakeImages(), FakePresigner())


def test_upload_url_uses_a_server_chosen_key_and_records_awaiting_upload(api: Api):
    result = issue_upload_url(api, "../../etc/My Photo (1).jpg", "image/jpeg", "1234", owner=SHARED)
    image_id = result["imageId"]
    assert result["key"] == f"uploads/{image_id}/My_Photo_1_.jpg"
    assert result["method"] == "PUT"
    assert result["headers"] == {"Content-Type": "image/jpeg", "If-None-Match": "*"}
    assert result["expiresIn"] == api.settings.upload_url_ttl
    assert result["uploadUrl"] == f"https://in.s3/{result['key']}?type=image/jpeg&length=1234&ttl=300"
    record = api.images.records[image_id]
    assert record["status"] == "AWAITING_UPLOAD"
    assert record["upload"] == {
        "key": result["key"],
        "filename": "My_Photo_1_.jpg",
        "declaredType": "image/jpeg",
        "declaredSize": 1234,
    }
    assert record["ttl"] > 0


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "code"),
    [
        ("a.pdf", "application/pdf", "10", "UNSUPPORTED_CONTENT_TYPE"),
        ("a.jpg", "text/plain", "10", "UNSUPPORTED_CONTENT_TYPE"),
        ("a.jpg", "image/svg+xml", "10", "UNSUPPORTED_CONTENT_TYPE"),
        ("a.jpg", "image/jpeg", None, "INVALID_SIZE"),
        ("a.jpg", "image/jpeg", "0", "INVALID_SIZE"),
        ("a.jpg", "image/jpeg", "1e3", "INVALID_SIZE"),
        ("a.jpg", "image/jpeg", "\u00b2", "INVALID_SIZE"),  # str.isdigit() would accept it, int() would not
        ("a.jpg", "image/jpeg", "\u0663", "INVALID_SIZE"),
        ("a.jpg", "image/jpeg", "9" * 5000, "INVALID_SIZE"),
        ("a.jpg", "image/jpeg", str(config.Limits().max_bytes + 1), "IMAGE_TOO_LARGE"),
        (None, "image/jpeg", "10", "INVALID_FILENAME"),
        ("x" * 300, "image/jpeg", "10", "INVALID_FILENAME"),
        ("///", "image/jpeg", "10", "INVALID_FILENAME"),
    ],
)
def test_upload_url_refuses_bad_requests_with_a_code(api: Api, filename, content_type, size, code):
    with pytest.raises(BadRequest) as raised:
        issue_upload_url(api, filename, content_type, size, owner=SHARED)
    assert raised.value.code == code
    assert api.images.records == {}


@pytest.mark.parametrize(
    ("size", "code", "message"),
    [
        (None, "INVALID_SIZE", "size (the upload's length in bytes) is required"),
        ("", "INVALID_SIZE", "size (the upload's length in bytes) is required"),
        ("abc", "INVALID_SIZE", "size must be a whole number of bytes, not 'abc'"),
        ("1.5", "INVALID_SIZE", "size must be a whole number of bytes, not '1.5'"),
        ("1e3", "INVALID_SIZE", "size must be a whole number of bytes, not '1e3'"),
        (" 12", "INVALID_SIZE", "size must be a whole number of bytes, not ' 12'"),
        ("-5", "INVALID_SIZE", "size must be positive (at least 1 byte), not '-5'"),
        ("0", "INVALID_SIZE", "size must be positive (at least 1 byte), not '0'"),
        ("9" * 5000, "INVALID_SIZE", "size must be a length in bytes, not '99999999999999999999'… (5000 characters)"),
        ("1001", "IMAGE_TOO_LARGE", "size must be at most 1000 bytes (the upload limit), not 1001"),
    ],
)
def test_each_bad_size_gets_its_own_message(size, code, message):
    from functions.api.upload_url import declared_size

    with pytest.raises(BadRequest) as raised:
        declared_size(size, max_bytes=1000)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_a_size_within_the_limit_is_the_declared_length():
    from functions.api.upload_url import declared_size

    assert declared_size("1000", max_bytes=1000) == 1000
    assert declared_size("007", max_bytes=1000) == 7


def test_sanitised_filename_keeps_letters_of_any_script_and_drops_the_path():
    assert sanitise_filename("C:\\Users\\me\\pic ü.png") == "pic_ü.png"
    assert sanitise_filename(".hidden.jpg") == "hidden.jpg"


def test_complete_image_lists_renditions_with_download_urls(api: Api, event):
    payload = event("metadata_input")
    api.images.records[payload["imageId"]] = {
        "imageId": payload["imageId"], "status": "COMPLETE", "original": payload["original"],
        "renditions": payload["renditions"], "executionId": payload["executionId"],
    }  # fmt: skip
    view = image_status(api, payload["imageId"], owner=SHARED)
    assert view["status"] == "COMPLETE"
    assert [r["url"] for r in view["renditions"]] == [
        f"https://out.s3/{r['key']}?ttl=3600" for r in payload["renditions"]
    ]
    assert view["executionId"] == payload["executionId"].split(":")[7]  # the execution's name, not its ARN


def test_failed_image_shows_the_error_code_with_its_fixed_message_not_the_cause(api: Api):
    cause = json.dumps({"errorMessage": "s3://imgpipe-input/uploads/x is not an image", "errorType": "NOT_AN_IMAGE"})
    api.images.records["a" * 32] = {
        "imageId": "a" * 32,
        "status": "FAILED",
        "error": {"code": "NOT_AN_IMAGE", "cause": cause},
    }
    view = image_status(api, "a" * 32, owner=SHARED)
    assert view["error"] == {"code": "NOT_AN_IMAGE", "message": PUBLIC_ERRORS["NOT_AN_IMAGE"]}
    assert "renditions" not in view


def test_failed_image_with_an_internal_error_is_internal_error_without_the_cause(api: Api):
    api.images.records["b" * 32] = {
        "imageId": "b" * 32,
        "status": "FAILED",
        "error": {"code": "States.Timeout", "cause": "arn:aws:lambda:us-east-1:123456789012:function:resize timed out"},
    }
    error = image_status(api, "b" * 32, owner=SHARED)["error"]
    assert error == {"code": "INTERNAL_ERROR", "message": PUBLIC_ERRORS["INTERNAL_ERROR"]}


def test_an_execution_that_outlived_express_is_reported_failed_and_recorded(api: Api):
    from datetime import datetime

    image_id = "d" * 32
    api.images.records[image_id] = {
        "imageId": image_id,
        "status": "PROCESSING",
        "executionId": "exec-1",
        "startedAt": "2026-11-28T09:00:00.123Z",
    }
    young = image_status(api, image_id, owner=SHARED, now=datetime(2026, 11, 28, 9, 4, 0, tzinfo=UTC))
    assert young["status"] == "PROCESSING"

    old = image_status(api, image_id, owner=SHARED, now=datetime(2026, 11, 28, 9, 6, 0, tzinfo=UTC))
    assert old["status"] == "FAILED"
    assert old["error"]["code"] == "PROCESSING_TIMEOUT"
    assert api.images.records[image_id]["status"] == "FAILED"


def test_a_stuck_check_that_loses_the_race_shows_the_finished_record(api: Api):
    from datetime import datetime

    image_id = "e" * 32
    api.images.records[image_id] = {
        "imageId": image_id,
        "status": "PROCESSING",
        "executionId": "exec-1",
        "startedAt": "2026-11-28T09:00:00Z",
    }

    def finished_meanwhile(*args):
        api.images.records[image_id] = {
            "imageId": image_id,
            "status": "COMPLETE",
            "executionId": "exec-1",
            "renditions": [],
        }
        return False

    api.images.fail_stale = finished_meanwhile
    assert (
        image_status(api, image_id, owner=SHARED, now=datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC))["status"]
        == "COMPLETE"
    )


def test_unknown_or_malformed_ids_are_not_found(api: Api):
    assert image_status(api, "c" * 32, owner=SHARED) is None
    assert image_status(api, "../../etc", owner=SHARED) is None
    assert image_status(api, "c" * 32 + "\n", owner=SHARED) is None


@pytest.fixture
def aws(monkeypatch):
    """The API handler against moto in-process, configured only through its environment."""
    from imgpipe.runtime import default_runtime

    for key, value in {
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
        config.ENV_INPUT_BUCKET: "input-bucket", config.ENV_OUTPUT_BUCKET: "output-bucket", config.ENV_TABLE: "images",
        config.ENV_RENDITIONS_BASE_URL: "https://cdn.example",
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "test",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        default_runtime.cache_clear()
        boto3.client("s3").create_bucket(Bucket="input-bucket")
        boto3.client("dynamodb").create_table(
            TableName="images",
            AttributeDefinitions=[{"AttributeName": "imageId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "imageId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield
        default_runtime.cache_clear()


class Context:
    function_name = "imgpipe-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-api"
    aws_request_id = "req-1"


def test_api_handler_issues_a_presigned_put_signed_for_the_content_type(aws, event):
    from functions.api.handler import handler

    response = handler(event("apigw_upload_url"), Context())
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    url = urlparse(body["uploadUrl"])
    assert url.netloc.startswith("input-bucket.") and url.path == "/" + body["key"]
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {
        "content-type",
        "content-length",
        "host",
        "if-none-match",
    }
    record = boto3.resource("dynamodb").Table("images").get_item(Key={"imageId": body["imageId"]})["Item"]
    assert record["status"] == "AWAITING_UPLOAD"


def test_api_handler_returns_404_json_for_an_unknown_image(aws, event):
    from functions.api.handler import handler

    response = handler(event("apigw_get_image"), Context())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "IMAGE_NOT_FOUND"


def test_api_handler_does_not_echo_an_image_id(aws, event):
    from functions.api.handler import handler

    request = event("apigw_get_image")
    for image_id in ("<script>" + "x" * 10_000, "e" * 32):
        request["pathParameters"] = {"imageId": image_id}
        response = handler(request, Context())
        assert response["statusCode"] == 404
        assert json.loads(response["body"]) == {"error": {"code": "IMAGE_NOT_FOUND", "message": "no such image"}}


def test_api_handler_serves_every_route_api_gateway_defines():
    from functions.api.handler import ROUTES

    assert set(ROUTES) == {(route.method, route.resource) for route in config.API_ROUTES}


def test_every_route_has_exactly_one_operation_and_every_operation_one_route():
    from functions.api.handler import OPERATIONS

    operations = [route.operation for route in config.API_ROUTES]
    assert sorted(operations) == sorted(OPERATIONS)  # no route without a function, no function unrouted
    assert len(set(operations)) == len(operations)  # and no operation served on two routes
    assert len({id(function) for function in OPERATIONS.values()}) == len(OPERATIONS)


def test_api_handler_answers_an_unknown_resource_with_404_json():
    from functions.api.handler import handler

    response = handler({"httpMethod": "PUT", "resource": "/images/{imageId}", "path": "/images/x"}, Context())
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"error": {"code": "NOT_FOUND", "message": "no such route"}}


def test_api_handler_turns_a_bad_request_into_400_with_its_code_and_cors(aws, event):
    from functions.api.handler import handler

    request = event("apigw_upload_url")
    request["queryStringParameters"] = {**request["queryStringParameters"], "contentType": "application/pdf"}
    response = handler(request, Context())
    assert response["statusCode"] == 400
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    assert json.loads(response["body"])["error"]["code"] == "UNSUPPORTED_CONTENT_TYPE"
