"""docs/openapi.yaml is the contract: it is a valid OpenAPI document, it names exactly the routes
the local API Gateway serves, and real responses validate against its schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from imgpipe.client import ApiError, Client
from imgpipe.config import API_ROUTES
from imgpipe.errors import PUBLIC_ERRORS
from imgpipe.paths import checkout_root

SPEC = yaml.safe_load((checkout_root() / "docs" / "openapi.yaml").read_text())


def schema(name: str) -> OAS30Validator:
    resolved = {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}
    return OAS30Validator(resolved)


def test_spec_is_a_valid_openapi_document():
    validate(SPEC)


def test_spec_routes_are_the_routes_the_api_serves():
    served: dict[str, set[str]] = {}
    for route in API_ROUTES:  # one resource can have several methods (GET and DELETE /images/{imageId})
        served.setdefault(route.resource, set()).add(route.method.lower())
    assert {path: set(item) - {"parameters"} for path, item in SPEC["paths"].items()} == served


def test_spec_operation_ids_are_the_operations_the_api_function_serves():
    for route in API_ROUTES:
        assert SPEC["paths"][route.resource][route.method.lower()]["operationId"] == route.operation


def test_spec_marks_the_required_query_parameters_the_gateway_validates():
    for route in API_ROUTES:
        parameters = SPEC["paths"][route.resource][route.method.lower()].get("parameters", [])
        assert {p["name"] for p in parameters if p["in"] == "query" and p.get("required")} == set(route.required_query)


def test_upload_url_complete_image_and_errors_match_their_schemas(client: Client, photo: bytes):
    upload = client.request_upload("contract.jpg", "image/jpeg", len(photo))
    schema("UploadUrl").validate(upload)
    schema("Image").validate(client.image(upload["imageId"]))
    client.put(upload, photo)
    complete = client.wait(upload["imageId"])
    schema("Image").validate(complete)
    assert complete["status"] == "COMPLETE" and complete["renditions"]
    with pytest.raises(ApiError) as raised:
        client.request_upload("x.jpg", "text/plain", 10)
    schema("Error").validate(raised.value.body)


def test_failed_image_matches_the_schema(client: Client):
    image_id = client.upload("x.jpg", b"\x00" * 100, "image/jpeg")
    view = client.wait(image_id)
    assert view["status"] == "FAILED" and view["error"]["code"]
    schema("Image").validate(view)
    assert view["error"] == {"code": "NOT_AN_IMAGE", "message": PUBLIC_ERRORS["NOT_AN_IMAGE"]}
    assert re.fullmatch(r"[0-9a-f]{32}", view["executionId"])  # the execution's name, not its ARN


def test_an_upload_url_never_used_shows_expired_and_matches_the_schema(stack, client: Client):
    image_id = client.request_upload("late.jpg", "image/jpeg", 100)["imageId"]
    fresh = client.image(image_id)
    assert fresh["status"] == "AWAITING_UPLOAD" and fresh["expiresAt"]
    # The same record as if issued two hours ago (its URL long expired, its TTL not yet reached).
    issued = datetime.now(UTC) - timedelta(hours=2)
    stack.client("dynamodb").update_item(
        TableName=stack.names.table,
        Key={"imageId": {"S": image_id}},
        UpdateExpression="SET createdAt = :created",
        ExpressionAttributeValues={":created": {"S": issued.strftime("%Y-%m-%dT%H:%M:%SZ")}},
    )
    expired = client.image(image_id)
    assert expired["status"] == "EXPIRED"
    schema("Image").validate(expired)


def test_a_10_kb_image_id_is_not_found_and_not_echoed(client: Client):
    long_id = "a" * 10_000
    with pytest.raises(ApiError) as raised:
        client.image(long_id)
    assert raised.value.status == 404
    assert raised.value.body == {"error": {"code": "IMAGE_NOT_FOUND", "message": "no such image"}}
    schema("Error").validate(raised.value.body)


def test_the_list_and_its_errors_match_their_schemas(client: Client, photo: bytes):
    # Two COMPLETE images of this test's own, so a one-item filtered page has a next page whatever ran before.
    first, image_id = (client.upload(name, photo, "image/jpeg") for name in ("listed-1.jpg", "listed-2.jpg"))
    client.wait(first)
    client.wait(image_id)
    page = client.images(limit=5)
    schema("ImageList").validate(page)
    assert any(item["imageId"] == image_id and item["renditions"] for item in page["items"])
    filtered = client.images(limit=1, status="COMPLETE")
    schema("ImageList").validate(filtered)
    assert filtered["nextCursor"]
    with pytest.raises(ApiError) as raised:
        client.images(cursor="tampered")
    assert raised.value.status == 400
    schema("Error").validate(raised.value.body)


def test_delete_answers_204_without_a_body_then_404_in_the_error_schema(client: Client):
    image_id = client.request_upload("deleted.jpg", "image/jpeg", 100)["imageId"]
    status, body = client.send("DELETE", f"/images/{image_id}")
    assert (status, body) == (204, b"")
    with pytest.raises(ApiError) as raised:
        client.delete(image_id)
    assert raised.value.status == 404
    schema("Error").validate(raised.value.body)
    responses = SPEC["paths"]["/images/{imageId}"]["delete"]["responses"]
    assert {"204", "404"} <= set(responses) and "content" not in responses["204"]
