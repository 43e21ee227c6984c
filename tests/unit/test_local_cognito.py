"""The local Cognito authorizer checks a token as API Gateway's does: signature, issuer, audience,
token_use and expiry.  Tokens here are signed with a key made for the test, its JWKS read from a file."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from imgpipe.local.cognito import LocalUserPool, TokenVerifier, bearer_token

POOL = LocalUserPool("us-east-1_abc123", "client-1")
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "test-key", "alg": "RS256", "use": "sig"})


@pytest.fixture
def verifier(key: RSAKey, tmp_path: Path) -> TokenVerifier:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(KeySet([key]).as_dict(private=False)))
    return TokenVerifier(POOL, jwks.as_uri())


def token(key: RSAKey, **overrides: Any) -> str:
    claims = {
        "iss": POOL.issuer,
        "aud": POOL.client_id,
        "sub": "1111-2222",
        "token_use": "id",
        "cognito:username": "alice",
        "iat": NOW - 60,
        "auth_time": NOW - 60,
        "exp": NOW + 3600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def test_a_valid_id_token_gives_its_claims_as_strings_like_api_gateway(verifier: TokenVerifier, key: RSAKey):
    claims = verifier.claims(f"Bearer {token(key)}", now=NOW)
    assert claims is not None
    assert claims["sub"] == "1111-2222" and claims["cognito:username"] == "alice" and claims["aud"] == "client-1"
    assert claims["exp"] == time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(NOW + 3600))
    assert all(isinstance(value, str) for value in claims.values())


def test_the_bare_token_is_accepted_too(verifier: TokenVerifier, key: RSAKey):
    assert verifier.claims(token(key), now=NOW) is not None


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 1},  # expired
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},  # another pool
        {"aud": "client-2"},  # another app client
        {"token_use": "access"},  # an access token, not an ID token
        {"sub": None},  # no subject: no owner
        {"exp": None},  # never expires
    ],
    ids=["expired", "issuer", "audience", "token_use", "no-sub", "no-exp"],
)
def test_a_token_with_a_wrong_claim_is_refused(verifier: TokenVerifier, key: RSAKey, overrides: dict[str, Any]):
    assert verifier.claims(f"Bearer {token(key, **overrides)}", now=NOW) is None


def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "test-key", "alg": "RS256"})
    assert verifier.claims(f"Bearer {token(stranger)}", now=NOW) is None


def test_a_token_whose_claims_were_edited_is_refused(verifier: TokenVerifier, key: RSAKey):
    header, _, signature = token(key).split(".")
    mine = token(key, sub="someone-else").split(".")[1]
    assert verifier.claims(f"Bearer {header}.{mine}.{signature}", now=NOW) is None


def test_an_unsigned_token_is_refused(verifier: TokenVerifier, key: RSAKey):
    header, claims, _ = token(key).split(".")
    none_header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    assert verifier.claims(f"Bearer {none_header}.{claims}.", now=NOW) is None
    assert verifier.claims(f"Bearer {header}.{claims}.", now=NOW) is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not.a.jwt", "x"])
def test_missing_or_malformed_authorization_is_refused(verifier: TokenVerifier, header: str | None):
    assert verifier.claims(header, now=NOW) is None


def test_bearer_token_reads_the_header_as_api_gateway_does():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("abc") == "abc"
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None
