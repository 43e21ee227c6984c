"""Rendition URLs (cdn / presigned) and per-owner scoping of the API, without a stack."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from functions.api.handler import caller_owner
from functions.api.logic import Api
from functions.api.status import image_status
from functions.api.upload_url import issue_upload_url
from imgpipe import config
from imgpipe.config import PipelineSettings, SettingsError
from imgpipe.delivery import RenditionDelivery
from tests.fakes import FakeImages

KEY = "renditions/" + "a" * 32 + "/large.jpg"
NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)


class CountingPresigner:
    def __init__(self) -> None:
        self.signed = 0

    def presign_put(self, bucket: str, key: str, content_type: str, content_length: int, expires_in: int) -> str:
        return f"https://{bucket}.s3/{key}?put"

    def presign_get(self, bucket: str, key: str, expires_in: int) -> str:
        self.signed += 1
        return f"https://{bucket}.s3/{key}?sig={self.signed}&ttl={expires_in}"


def cdn(base: str = "https://d111.cloudfront.net") -> RenditionDelivery:
    env = {config.ENV_RENDITIONS_BASE_URL: base}
    return RenditionDelivery.from_settings(PipelineSettings(), "out", None, env)


# ---- the one place rendition URLs are made ------------------------------------------------------
def test_cdn_urls_are_the_base_plus_the_key_unsigned_and_identical_on_every_read():
    delivery = cdn("https://img.example.com/")  # a trailing slash in the setting is not doubled
    first = delivery.link(KEY)
    assert first == {"url": f"https://img.example.com/{KEY}"}
    assert delivery.link(KEY) == first


def test_presigned_urls_are_signed_per_read_and_say_when_they_expire():
    presigner = CountingPresigner()
    settings = PipelineSettings(delivery="presigned", download_url_ttl=900)
    delivery = RenditionDelivery.from_settings(settings, "out", presigner, {})
    link = delivery.link(KEY, NOW)
    assert link == {"url": f"https://out.s3/{KEY}?sig=1&ttl=900", "expiresAt": "2026-11-28T09:15:00Z"}
    assert delivery.link(KEY, NOW)["url"] != link["url"]


def test_with_urls_keeps_every_rendition_field_and_adds_the_url():
    rendition = {"name": "large", "key": KEY, "width": 1600, "height": 1067, "format": "jpeg", "bytes": 12345}
    assert cdn().with_urls([rendition]) == [{**rendition, "url": f"https://d111.cloudfront.net/{KEY}"}]


def test_only_rendition_keys_get_urls():
    with pytest.raises(ValueError, match="not a rendition key"):
        cdn().link("uploads/" + "a" * 32 + "/photo.jpg")
    with pytest.raises(ValueError, match="not a rendition key"):
        cdn().link("work/" + "a" * 32 + "/renditions.raw")


def test_a_cdn_function_without_its_base_url_fails_at_cold_start():
    with pytest.raises(SettingsError, match=config.ENV_RENDITIONS_BASE_URL):
        RenditionDelivery.from_settings(PipelineSettings(), "out", CountingPresigner(), {})


@pytest.mark.parametrize(("field", "value"), [("delivery", "s3"), ("auth", "cognito"), ("auth", "apikey")])
def test_unknown_delivery_or_auth_modes_are_refused(field: str, value: str):
    with pytest.raises(SettingsError, match=field):
        PipelineSettings.from_mapping({field: value})


def test_defaults_are_cdn_delivery_and_api_key_auth():
    assert (PipelineSettings().delivery, PipelineSettings().auth) == ("cdn", "apiKey")


# ---- owners -------------------------------------------------------------------------------------
@pytest.fixture
def api() -> Api:
    return Api(PipelineSettings(), "in", "out", FakeImages(), CountingPresigner(), delivery=cdn())


def complete_record(image_id: str, owner: str | None) -> dict[str, Any]:
    record = {"imageId": image_id, "status": "COMPLETE", "renditions": [{"name": "large", "key": KEY}]}
    return record if owner is None else {**record, "owner": owner}


def test_the_upload_url_records_the_callers_owner(api: Api):
    result = issue_upload_url(api, "a.jpg", "image/jpeg", "10", owner="user-a")
    assert api.images.records[result["imageId"]]["owner"] == "user-a"


def test_another_owners_image_is_not_found_like_an_unknown_id(api: Api):
    api.images.records["a" * 32] = complete_record("a" * 32, "user-a")
    assert image_status(api, "a" * 32, owner="user-a")["renditions"][0]["url"].endswith(KEY)
    assert image_status(api, "a" * 32, owner="user-b") is None
    assert image_status(api, "a" * 32, owner=config.SHARED_OWNER) is None


def test_records_from_before_owners_belong_to_the_shared_owner(api: Api):
    api.images.records["b" * 32] = complete_record("b" * 32, None)
    assert image_status(api, "b" * 32, owner=config.SHARED_OWNER)["status"] == "COMPLETE"
    assert image_status(api, "b" * 32, owner="user-a") is None


def test_the_owner_is_the_shared_one_with_api_keys_and_the_tokens_sub_with_jwt():
    event = {"requestContext": {"authorizer": {"claims": {"sub": "1111-2222", "token_use": "id"}}}}
    assert caller_owner(event, PipelineSettings()) == config.SHARED_OWNER
    assert caller_owner({}, PipelineSettings()) == config.SHARED_OWNER
    jwt = PipelineSettings(auth="jwt")
    assert caller_owner(event, jwt) == "1111-2222"
    assert caller_owner({"requestContext": {}}, jwt) is None
    assert caller_owner({"requestContext": {"authorizer": {"claims": {"sub": ""}}}}, jwt) is None


def test_a_jwt_api_answers_a_request_without_claims_401_as_api_gateway_would(monkeypatch):
    from functions.api import handler as api_handler
    from imgpipe.runtime import Runtime

    runtime = Runtime(PipelineSettings(auth="jwt"), config.Resources("in", "out", "t"), None, None)
    monkeypatch.setattr(api_handler, "default_runtime", lambda: runtime)
    status, body = api_handler.respond({"httpMethod": "GET", "resource": "/images/{imageId}", "requestContext": {}})
    assert (status, body) == (401, {"message": "Unauthorized"})
