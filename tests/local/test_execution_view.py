"""GET /images/{imageId}/execution over HTTP against the local stack: the real workflow's steps."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator

from imgpipe.client import Client
from imgpipe.local.pipeline import LocalPipeline
from imgpipe.paths import checkout_root

SPEC = yaml.safe_load((checkout_root() / "docs" / "openapi.yaml").read_text())
WORKFLOW = ["ParseEvent", "ClaimImage", "Resize", "Watermark", "Metadata", "Done"]


def schema(name: str) -> OAS30Validator:
    return OAS30Validator({**SPEC["components"]["schemas"][name], "components": SPEC["components"]})


def get(stack: LocalPipeline, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(stack.api_url + path, method=method, headers={"Origin": "http://example.test"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(body) if body else dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_complete_image_shows_every_step_of_its_execution(stack: LocalPipeline, client: Client, photo: bytes):
    image_id = client.upload("steps.jpg", photo, "image/jpeg")
    image = client.wait(image_id)
    assert image["status"] == "COMPLETE"

    status, execution = get(stack, f"/images/{image_id}/execution")

    assert status == 200
    schema("Execution").validate(execution)
    assert execution["status"] == "SUCCEEDED" and execution["durationMs"] >= 0
    assert [s["name"] for s in execution["steps"]] == WORKFLOW
    assert {s["status"] for s in execution["steps"]} == {"SUCCEEDED"}
    tasks = [s for s in execution["steps"] if s["type"] == "Task"]
    assert [(s["attempts"], s["retries"], s["errors"]) for s in tasks] == [(1, 0, [])] * 4
    assert sum(s["durationMs"] for s in execution["steps"]) <= execution["durationMs"]


def test_a_refused_file_shows_the_step_that_refused_it(stack: LocalPipeline, client: Client):
    image_id = client.upload("notes.jpg", b"meeting notes, not a photo\n" * 20, "image/jpeg")
    assert client.wait(image_id)["status"] == "FAILED"

    status, execution = get(stack, f"/images/{image_id}/execution")

    assert status == 200
    schema("Execution").validate(execution)
    assert execution["status"] == "FAILED" and execution["error"]["code"] == "NOT_AN_IMAGE"
    names = [s["name"] for s in execution["steps"]]
    steps = {s["name"]: s for s in execution["steps"]}
    assert names[:3] == ["ParseEvent", "ClaimImage", "Resize"] and names[-1] == "ImageFailed"
    assert (steps["Resize"]["status"], steps["Resize"]["errors"]) == ("FAILED", ["NOT_AN_IMAGE"])
    assert "Watermark" not in steps
    assert steps["RecordFailure"]["status"] == "SUCCEEDED" and steps["ImageFailed"]["status"] == "FAILED"


def test_no_execution_before_the_upload_and_none_for_an_unknown_image(stack: LocalPipeline, client: Client):
    awaiting = client.request_upload("later.jpg", "image/jpeg", 100)["imageId"]

    status, body = get(stack, f"/images/{awaiting}/execution")
    assert status == 404 and body["error"]["code"] == "EXECUTION_NOT_FOUND"
    schema("Error").validate(body)

    status, body = get(stack, f"/images/{'0' * 32}/execution")
    assert status == 404 and body["error"]["code"] == "IMAGE_NOT_FOUND"


def test_a_page_on_another_origin_may_ask_for_it(stack: LocalPipeline):
    status, headers = get(stack, f"/images/{'0' * 32}/execution", method="OPTIONS")
    assert status == 204
    assert "GET" in headers["Access-Control-Allow-Methods"]
