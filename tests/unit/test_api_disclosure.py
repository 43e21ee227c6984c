"""What the public API tells a caller and what it keeps to itself: fixed messages per error code, an
execution's name instead of its ARN, the expiry of an unused upload URL, ids never echoed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.api.logic import UPLOAD_ARRIVAL_GRACE_S, Api
from functions.api.status import execution_reference, image_status
from imgpipe import config
from imgpipe.errors import PERMANENT_CODES, PUBLIC_ERRORS
from tests.fakes import FakeImages, NoPresigner

SHARED = config.SHARED_OWNER
CREATED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Api:
    return Api(config.PipelineSettings(), "in", "out", FakeImages(), NoPresigner())


def awaiting(api: Api, image_id: str = "d" * 32) -> str:
    api.images.records[image_id] = {
        "imageId": image_id,
        "status": "AWAITING_UPLOAD",
        "createdAt": CREATED.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ttl": int((CREATED + timedelta(days=1)).timestamp()),
    }
    return image_id


def test_every_code_a_failed_image_can_show_has_a_fixed_message():
    assert set(PERMANENT_CODES) | {"PROCESSING_TIMEOUT", "INTERNAL_ERROR"} == set(PUBLIC_ERRORS)
    assert all(message and "{" not in message for message in PUBLIC_ERRORS.values())


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        ("Runtime.ExitError", '{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: signal: killed"}'),
        ("Lambda.Unknown", "The cause could not be determined because Lambda did not return an error type."),
        ("KeyError", '{"errorMessage": "\'renditions\'", "stackTrace": ["File /var/task/metadata/logic.py"]}'),
        ("DynamoDB.ConditionalCheckFailedException", "arn:aws:dynamodb:us-east-1:123456789012:table/imgpipe-images"),
        (None, None),
    ],
)
def test_errors_that_are_not_the_images_fault_are_one_internal_error_with_nothing_of_the_cause(api, code, cause):
    api.images.records["e" * 32] = {"imageId": "e" * 32, "status": "FAILED", "error": {"code": code, "cause": cause}}
    view = image_status(api, "e" * 32, owner=SHARED)
    assert view["error"] == {"code": "INTERNAL_ERROR", "message": PUBLIC_ERRORS["INTERNAL_ERROR"]}
    assert "123456789012" not in str(view) and "signal" not in str(view)


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:states:us-east-1:123456789012:express:imgpipe-pipeline:5d3c:0f1e", "5d3c"),
        ("arn:aws:states:us-east-1:123456789012:execution:imgpipe-pipeline:ab12cd", "ab12cd"),
        ("not-an-arn", None),
        (None, None),
    ],
)
def test_the_execution_reference_is_the_executions_name_without_account_or_machine(arn, name):
    assert execution_reference(arn) == name


def test_a_record_shows_its_execution_by_name(api: Api):
    arn = "arn:aws:states:us-east-1:123456789012:express:imgpipe-pipeline:run-7:1a2b"
    api.images.records["f" * 32] = {"imageId": "f" * 32, "status": "PROCESSING", "executionId": arn}
    view = image_status(api, "f" * 32, owner=SHARED)
    assert view["executionId"] == "run-7"
    assert "123456789012" not in str(view)


def test_an_unused_upload_url_shows_when_it_expires_then_expired(api: Api):
    image_id = awaiting(api)
    expires = CREATED + timedelta(seconds=api.settings.upload_url_ttl)

    fresh = image_status(api, image_id, owner=SHARED, now=CREATED + timedelta(seconds=1))
    assert fresh["status"] == "AWAITING_UPLOAD"
    assert fresh["expiresAt"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    # An upload that began before expiry may still be arriving: not EXPIRED yet.
    arriving = image_status(api, image_id, owner=SHARED, now=expires + timedelta(seconds=UPLOAD_ARRIVAL_GRACE_S))
    assert arriving["status"] == "AWAITING_UPLOAD"

    later = image_status(api, image_id, owner=SHARED, now=expires + timedelta(seconds=UPLOAD_ARRIVAL_GRACE_S + 1))
    assert later["status"] == "EXPIRED"
    assert later["expiresAt"] == fresh["expiresAt"]
    assert api.images.records[image_id]["status"] == "AWAITING_UPLOAD"  # computed, never written


def test_a_record_past_its_ttl_is_not_found_as_once_dynamodb_has_deleted_it(api: Api):
    image_id = awaiting(api)
    assert image_status(api, image_id, owner=SHARED, now=CREATED + timedelta(days=1)) is None


def test_an_uploaded_image_never_shows_expiry(api: Api):
    image_id = awaiting(api)
    api.images.records[image_id] |= {"status": "PROCESSING", "executionId": "arn:aws:states:r:1:express:m:n:i"}
    view = image_status(api, image_id, owner=SHARED, now=CREATED + timedelta(hours=2))
    assert view["status"] == "PROCESSING" and "expiresAt" not in view


def test_a_malformed_id_is_not_found_without_being_looked_up(api: Api):
    looked_up = []
    api.images.get = looked_up.append
    assert image_status(api, "x" * 10_000, owner=SHARED) is None
    assert image_status(api, "D" * 32, owner=SHARED) is None
    assert looked_up == []
