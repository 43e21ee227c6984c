"""Auth "jwt", locally, as a user starts it: `imgpipe serve --auth jwt`, tokens from `imgpipe token`,
and every read, list and delete scoped to the token's user."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from PIL import Image

from imgpipe.client import ApiError, Client
from imgpipe.local.cognito import LocalUserPool, issue_token
from imgpipe.local.pipeline import LOCAL_CREDENTIALS
from imgpipe.local.provision import LocalNames
from tests.serve_support import IMGPIPE, serving

UNAUTHORIZED = {"message": "Unauthorized"}


@dataclass
class Served:
    api_url: str
    aws_endpoint: str

    @property
    def aws_port(self) -> str:
        return self.aws_endpoint.rsplit(":", 1)[1]

    def token(self, user: str) -> str:
        result = subprocess.run(
            [*IMGPIPE, "token", "--user", user, "--aws-port", self.aws_port],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def client(self, user: str) -> Client:
        return Client(self.api_url, token=self.token(user))


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serving("--auth", "jwt", "--workers", "1", "--log-level", "WARNING") as server:
        output = server.output()
        assert "auth         jwt" in output and "imgpipe token --user" in output
        yield Served(server.api_url, server.aws_endpoint)
        assert server.stop() == 0


def call(url: str, method: str = "GET", token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def small_jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_every_route_answers_401_without_a_valid_token(served: Served):
    image_id = "a" * 32
    routes = [
        ("GET", "/upload-url?filename=a.jpg&contentType=image/jpeg&size=10"),
        ("GET", "/images?limit=20"),
        ("GET", f"/images/{image_id}"),
        ("DELETE", f"/images/{image_id}"),
    ]
    for method, path in routes:
        assert call(served.api_url + path, method) == (401, UNAUTHORIZED), path
        assert call(served.api_url + path, method, token="not-a-token") == (401, UNAUTHORIZED), path


def test_token_prints_an_id_token_for_the_user_and_reuses_the_user(served: Served):
    first, second = served.token("carol"), served.token("carol")
    claims = claims_of(first)
    assert claims["token_use"] == "id" and claims["cognito:username"] == "carol"
    assert claims["iss"].startswith("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_")
    assert claims_of(second)["sub"] == claims["sub"]  # the same user, not a new one
    assert served.token("dave") and claims_of(served.token("dave"))["sub"] != claims["sub"]


def test_a_token_of_another_app_client_is_refused(served: Served):
    names = LocalNames()
    credentials = {k.lower(): v for k, v in LOCAL_CREDENTIALS.items()}
    cognito = boto3.client("cognito-idp", endpoint_url=served.aws_endpoint, region_name=names.region, **credentials)
    pool_id = next(p["Id"] for p in cognito.list_user_pools(MaxResults=10)["UserPools"] if p["Name"] == names.user_pool)
    other = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="another-app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    token = issue_token(cognito, LocalUserPool(pool_id, other), "erin")
    assert call(f"{served.api_url}/images?limit=5", token=token) == (401, UNAUTHORIZED)


def test_each_user_sees_lists_and_deletes_only_their_own_images(served: Served):
    alice, bob = served.client("alice"), served.client("bob")
    alices = alice.upload("alice.jpg", small_jpeg("red"), "image/jpeg")
    bobs = bob.upload("bob.jpg", small_jpeg("blue"), "image/jpeg")
    view = alice.wait(alices, deadline_s=90)
    assert view["status"] == "COMPLETE", view
    assert bob.wait(bobs, deadline_s=90)["status"] == "COMPLETE"

    assert [item["imageId"] for item in alice.get("/images", {"limit": 20})["items"]] == [alices]
    assert [item["imageId"] for item in bob.get("/images", {"limit": 20})["items"]] == [bobs]

    # Another user's image answers exactly as an id that never existed.
    with pytest.raises(ApiError) as theirs:
        bob.image(alices)
    with pytest.raises(ApiError) as unknown:
        bob.image("f" * 32)
    assert (theirs.value.status, theirs.value.body) == (unknown.value.status, unknown.value.body)
    assert theirs.value.status == 404 and theirs.value.code == "IMAGE_NOT_FOUND"
    assert call(f"{served.api_url}/images/{alices}", "DELETE", token=bob.token) == call(
        f"{served.api_url}/images/{'f' * 32}", "DELETE", token=bob.token
    )
    assert call(f"{served.api_url}/images/{alices}", "DELETE", token=bob.token)[0] == 404
    assert alice.image(alices)["status"] == "COMPLETE"  # untouched by bob's attempts

    # Rendition URLs are public by URL (cdn): no token needed, the same for every reader.
    with urllib.request.urlopen(view["renditions"][0]["url"], timeout=10) as response:
        assert response.status == 200 and response.headers["Cache-Control"].endswith("immutable")

    assert call(f"{served.api_url}/images/{alices}", "DELETE", token=alice.token)[0] == 204
    assert [item["imageId"] for item in bob.get("/images", {"limit": 20})["items"]] == [bobs]
