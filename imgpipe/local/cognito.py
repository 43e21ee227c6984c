"""Cognito, locally: the emulator's user pool issues tokens and the local API Gateway checks them.

``TokenVerifier`` does what API Gateway's Cognito user pool authorizer does for a REST API: the ID
token's RS256 signature against the pool's JWKS (served by the emulator at
``/<pool id>/.well-known/jwks.json``), its issuer, its audience (the app client), ``token_use`` and
expiry, and then hands its claims to the function as ``requestContext.authorizer.claims``, every
value a string.  ``issue_token`` signs a user in the way an application would (USER_PASSWORD_AUTH),
creating the user first if needed: ``imgpipe token --user NAME``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from imgpipe.topology import USER_POOL_PASSWORD_MIN_LENGTH

BEARER = "bearer"
# How API Gateway renders a token's date claims in requestContext.authorizer.claims.
_CLAIM_DATE_FORMAT = "%a %b %d %H:%M:%S UTC %Y"
_DATE_CLAIMS = ("exp", "iat", "auth_time")
_JWKS_TIMEOUT_S = 5


@dataclass(frozen=True)
class LocalUserPool:
    pool_id: str
    client_id: str

    @property
    def region(self) -> str:
        return self.pool_id.split("_", 1)[0]

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def jwks_url(self, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{self.pool_id}/.well-known/jwks.json"


def find_user_pool(cognito: Any, pool_name: str, client_name: str) -> LocalUserPool | None:
    """The running stack's pool and app client, by name (``imgpipe serve --auth jwt`` made them)."""
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == pool_name), None)
    if pool_id is None:
        return None
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == client_name), None)
    return LocalUserPool(pool_id, client_id) if client_id else None


def issue_token(cognito: Any, pool: LocalUserPool, username: str) -> str:
    """An ID token for ``username``, signing in as an application would; the user is created if
    missing.  Each call sets a fresh random password: nobody needs to know it, locally."""
    try:
        cognito.admin_get_user(UserPoolId=pool.pool_id, Username=username)
    except cognito.exceptions.UserNotFoundException:
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=username, MessageAction="SUPPRESS")
    password = secrets.token_urlsafe(USER_POOL_PASSWORD_MIN_LENGTH) + "aA1!"  # every character class
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username=username, Password=password, Permanent=True)
    result = cognito.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token: str = result["AuthenticationResult"]["IdToken"]
    return token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization`` header: ``Bearer <token>``, or the bare token, both of which
    API Gateway's Cognito authorizer accepts."""
    if not authorization:
        return None
    value = authorization.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == BEARER:
        value = rest.strip()
    return value or None


def claims_as_api_gateway_passes_them(claims: dict[str, Any]) -> dict[str, str]:
    passed = {}
    for name, value in claims.items():
        if name in _DATE_CLAIMS and isinstance(value, int):
            passed[name] = time.strftime(_CLAIM_DATE_FORMAT, time.gmtime(value))
        elif isinstance(value, str):
            passed[name] = value
        else:
            passed[name] = json.dumps(value)
    return passed


@dataclass
class TokenVerifier:
    pool: LocalUserPool
    jwks_url: str
    _keys: KeySet | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _key_set(self) -> KeySet:
        # Fetched once: the emulator's signing key never changes while it runs.
        with self._lock:
            if self._keys is None:
                with urllib.request.urlopen(self.jwks_url, timeout=_JWKS_TIMEOUT_S) as response:
                    self._keys = KeySet.import_key_set(json.load(response))
            return self._keys

    def claims(self, authorization: str | None, now: int | None = None) -> dict[str, str] | None:
        """The claims of a valid ID token of this pool's app client, or None (401)."""
        token = bearer_token(authorization)
        if token is None:
            return None
        try:
            decoded = jwt.decode(token, self._key_set(), algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                now=now,
                iss={"essential": True, "value": self.pool.issuer},
                aud={"essential": True, "value": self.pool.client_id},
                token_use={"essential": True, "value": "id"},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(decoded.claims)
        except (JoseError, ValueError):  # ValueError: not even a JWT's three base64url parts
            return None
        return claims_as_api_gateway_passes_them(decoded.claims)
