"""docs/openapi.yaml is the contract: it is a valid OpenAPI document, it names exactly the routes
the local API Gateway serves, and real responses validate against its schemas."""

from __future__ import annotations

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from imgpipe.client import ApiError, Client
from imgpipe.config import API_ROUTES
from imgpipe.paths import checkout_root

SPEC = yaml.safe_load((checkout_root() / "docs" / "openapi.yaml").read_text())


def schema(name: str) -> OAS30Validator:
    resolved = {**SPEC["components"]["schemas"][name], "components": SPEC["components"]}
    return OAS30Validator(resolved)


def test_spec_is_a_valid_openapi_document():
    validate(SPEC)


def test_spec_routes_are_the_routes_the_api_serves():
    assert {path: set(item) - {"parameters"} for path, item in SPEC["paths"].items()} == {
        r.resource: {r.method.lower()} for r in API_ROUTES
    }


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
