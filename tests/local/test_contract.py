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


def test_the_list_and_its_errors_match_their_schemas(client: Client, photo: bytes):
    image_id = client.upload("listed.jpg", photo, "image/jpeg")
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
    status, body = client._call("DELETE", f"{client.api_url}/images/{image_id}")
    assert (status, body) == (204, b"")
    with pytest.raises(ApiError) as raised:
        client.delete(image_id)
    assert raised.value.status == 404
    schema("Error").validate(raised.value.body)
    responses = SPEC["paths"]["/images/{imageId}"]["delete"]["responses"]
    assert {"204", "404"} <= set(responses) and "content" not in responses["204"]
