"""Who may use the local buckets, and from which web pages: S3's authentication and CORS, in front of moto.

moto accepts any request to a bucket: an unsigned PUT, a presigned URL used for another key, a
header nobody signed.  Its server also answers every preflight with "allow anything" (flask-cors),
whatever the bucket's CORS configuration says.  S3 does neither, so a client that works locally
could fail on AWS.  This WSGI middleware answers for the pipeline's buckets as S3 does:

- a CORS preflight (``OPTIONS``) is answered from the bucket's CORS configuration, unauthenticated;
- every other request must carry SigV4: a presigned query whose signature is recomputed with
  botocore's signer and the local credentials, or an ``Authorization`` header (checked for form
  only: locally any credentials are valid, as the README promises the AWS CLI);
- an ``x-amz-*`` header the request did not sign is refused;
- responses to a cross-origin request carry the CORS headers of the rule that allows it, and only those.

Requests to anything else (the emulator's other services, other buckets) pass through untouched.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_HEADER_ENVIRON = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_QUERY_AUTH_PARAMETERS = (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
)  # fmt: skip
_MAX_PRESIGNED_EXPIRY_S = 7 * 24 * 3600
_MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 +Credential=(?P<credential>[^,\s]+), *SignedHeaders=(?P<signed>[a-z0-9;-]+),"
    r" *Signature=(?P<signature>[0-9a-f]{64})"
)
_CREDENTIAL = re.compile(r"(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/s3/aws4_request")
_RESPONSE_CORS_HEADERS = ("access-control-", "vary")
CORS_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
CORS_NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method"
    " / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS"
    " spec."
)  # S3's own words, its spelling included


@dataclass(frozen=True)
class Refusal:
    """An S3 error answer: status, code and message, plus S3's extra elements (e.g. HeadersNotSigned)."""

    status: int
    code: str
    message: str
    details: dict[str, str] = field(default_factory=dict)


_SIGV2 = Refusal(
    400,
    "InvalidRequest",
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
)


def _access_denied(message: str = "Access Denied", **details: str) -> Refusal:
    return Refusal(403, "AccessDenied", message, details)


# ---- CORS ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorsRule:
    """One rule of a bucket's CORS configuration, in S3's terms."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None


def _wildcard_match(pattern: str, value: str) -> bool:
    """S3 allows one ``*`` in an allowed origin or header, standing for any run of characters."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def matching_rule(
    rules: Sequence[CorsRule], origin: str, method: str, request_headers: Sequence[str] = ()
) -> CorsRule | None:
    """The first rule allowing this origin, method and every requested header, as S3 evaluates them:
    origins and methods exactly (one ``*`` allowed in an origin), headers case-insensitively."""
    for rule in rules:
        if method not in rule.allowed_methods:
            continue
        if not any(_wildcard_match(allowed, origin) for allowed in rule.allowed_origins):
            continue
        allowed_headers = [h.lower() for h in rule.allowed_headers]
        if all(any(_wildcard_match(a, h.lower()) for a in allowed_headers) for h in request_headers):
            return rule
    return None


def cors_response_headers(rule: CorsRule, origin: str, request_headers: Sequence[str] = ()) -> list[tuple[str, str]]:
    """What S3 adds for an allowed cross-origin request: ``*`` when the rule allows any origin (so no
    credentials), else the request's origin with credentials allowed; requested headers echoed."""
    headers: list[tuple[str, str]] = []
    if "*" in rule.allowed_origins:
        headers.append(("Access-Control-Allow-Origin", "*"))
    else:
        headers += [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
    headers.append(("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods)))
    if request_headers:
        headers.append(("Access-Control-Allow-Headers", ", ".join(request_headers)))
    if rule.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
    headers.append(("Vary", CORS_VARY))
    return headers


def requested_headers(environ: dict[str, Any]) -> list[str]:
    value = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def preflight(
    environ: dict[str, Any], rules: Sequence[CorsRule] | None
) -> tuple[Refusal | None, list[tuple[str, str]]]:
    """S3's answer to OPTIONS: the CORS headers of the first matching rule, or why not."""
    origin = environ.get("HTTP_ORIGIN")
    method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if not origin:
        return Refusal(400, "BadRequest", "Insufficient information. Origin request header needed."), []
    if not method:
        return Refusal(400, "BadRequest", "Invalid Access-Control-Request-Method: null"), []
    resource = {"Method": method, "ResourceType": "OBJECT" if _key_of(environ) else "BUCKET"}
    if not rules:
        return Refusal(403, "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", resource), []
    headers = requested_headers(environ)
    rule = matching_rule(rules, origin, method, headers)
    if rule is None:
        return Refusal(403, "AccessForbidden", CORS_NOT_ALLOWED, resource), []
    return None, cors_response_headers(rule, origin, headers)


def moto_bucket_cors(bucket: str) -> list[CorsRule] | None:
    """The CORS configuration stored in the emulator for a bucket (what PutBucketCors set), or None."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    try:
        stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket).cors
    except MissingBucket:
        return None
    return [
        CorsRule(
            allowed_origins=tuple(rule.allowed_origins or ()),
            allowed_methods=tuple(rule.allowed_methods or ()),
            allowed_headers=tuple(rule.allowed_headers or ()),
            expose_headers=tuple(rule.exposed_headers or ()),
            max_age_seconds=int(rule.max_age_seconds) if rule.max_age_seconds is not None else None,
        )
        for rule in stored
    ] or None


# ---- authentication --------------------------------------------------------------------------------
def _key_of(environ: dict[str, Any]) -> str:
    return str(environ.get("PATH_INFO", "")).lstrip("/").partition("/")[2]


def _header(environ: dict[str, Any], name: str) -> str | None:
    value = environ.get(_HEADER_ENVIRON.get(name) or "HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


def _amz_headers(environ: dict[str, Any]) -> list[str]:
    return sorted(k[5:].lower().replace("_", "-") for k in environ if k.startswith("HTTP_X_AMZ_"))


def _unsigned_amz_headers(environ: dict[str, Any], signed: Collection[str]) -> Refusal | None:
    unsigned = [name for name in _amz_headers(environ) if name not in signed]
    if unsigned:
        return _access_denied(
            "There were headers present in the request which were not signed", HeadersNotSigned=", ".join(unsigned)
        )
    return None


def check_presigned(environ: dict[str, Any], secret_key: str, now: datetime.datetime | None = None) -> Refusal | None:
    """A SigV4 query (presigned URL): complete, unexpired, every x-amz-* header signed, and the
    signature botocore computes for this method, host, path, query and signed headers."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = dict(query)
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return Refusal(400, "AuthorizationQueryParametersError", 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    if any(name not in params for name in _QUERY_AUTH_PARAMETERS):
        return Refusal(
            400,
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature,"
            " X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        )
    try:
        access_key, _, region, service, _ = params["X-Amz-Credential"].split("/")
        signed_at = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        return Refusal(400, "AuthorizationQueryParametersError", "the presigned URL's X-Amz parameters are malformed")
    if not 0 <= expires <= _MAX_PRESIGNED_EXPIRY_S:
        return Refusal(
            400,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )
    now = now or datetime.datetime.now(datetime.UTC)
    if now > signed_at + datetime.timedelta(seconds=expires):
        return _access_denied("Request has expired")
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    if refused := _unsigned_amz_headers(environ, signed_headers):
        return refused

    headers = {}
    for name in signed_headers:
        value = _header(environ, name)
        if value is None:
            return Refusal(403, "SignatureDoesNotMatch", f"the signed header {name} was not sent")
        headers[name] = value
    unsigned_query = urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"], quote_via=quote)
    # PATH_INFO is the decoded path as latin-1 text (PEP 3333); S3 signs the UTF-8 path, URI-encoded.
    path = quote(str(environ.get("PATH_INFO", "")).encode("latin-1"), safe="/~")
    request = AWSRequest(
        method=environ["REQUEST_METHOD"], url=f"http://{environ.get('HTTP_HOST', '')}{path}?{unsigned_query}",
        headers=headers,
    )  # fmt: skip
    request.context["timestamp"] = params["X-Amz-Date"]
    signer = S3SigV4QueryAuth(
        Credentials(access_key, secret_key, params.get("X-Amz-Security-Token")), service, region, expires=expires
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if expected != params["X-Amz-Signature"]:
        return Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing"
            " method.",
        )
    return None


def check_authorization_header(
    environ: dict[str, Any], authorization: str, now: datetime.datetime | None = None
) -> Refusal | None:
    """A SigV4 ``Authorization`` header, checked for form: algorithm, credential scope, signed
    headers present, request date within S3's 15 minutes, every x-amz-* header signed.  The
    signature itself is not recomputed: locally every access key is valid, with any secret."""
    if authorization.startswith("AWS "):
        return _SIGV2
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return Refusal(400, "InvalidArgument", "Unsupported Authorization Type", {"ArgumentName": "Authorization"})
    parsed = _AUTHORIZATION.fullmatch(authorization.strip())
    credential = _CREDENTIAL.fullmatch(parsed["credential"]) if parsed else None
    if parsed is None or credential is None:
        return Refusal(
            400,
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; expecting AWS4-HMAC-SHA256 Credential=<key>/<YYYYMMDD>/<region>/s3"
            "/aws4_request, SignedHeaders=<header;header>, Signature=<64 hex digits>.",
        )
    amz_date = _header(environ, "x-amz-date")
    try:
        sent_at = datetime.datetime.strptime(amz_date or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return _access_denied("AWS authentication requires a valid Date or x-amz-date header")
    if credential["date"] != sent_at.strftime("%Y%m%d"):
        return Refusal(
            400,
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.",
        )
    now = now or datetime.datetime.now(datetime.UTC)
    if abs(now - sent_at) > _MAX_CLOCK_SKEW:
        return Refusal(
            403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
        )
    if _header(environ, "x-amz-content-sha256") is None:
        return Refusal(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    signed = parsed["signed"].split(";")
    if "host" not in signed or any(_header(environ, name) is None for name in signed):
        return Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing"
            " method.",
        )
    return _unsigned_amz_headers(environ, signed)


def authenticate(environ: dict[str, Any], secret_key: str, now: datetime.datetime | None = None) -> Refusal | None:
    """None if S3 would let the request in (SigV4 by query or header), else S3's refusal."""
    params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    authorization = environ.get("HTTP_AUTHORIZATION")
    query_auth = "X-Amz-Algorithm" in params
    if authorization and query_auth:
        return Refusal(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string"
            " parameter or the Authorization header should be specified",
            {"ArgumentName": "Authorization"},
        )
    if query_auth:
        return check_presigned(environ, secret_key, now)
    if authorization:
        return check_authorization_header(environ, authorization, now)
    if "Signature" in params and "AWSAccessKeyId" in params:
        return _SIGV2  # a SigV2 presigned URL (botocore's default for S3 without signature_version="s3v4")
    return _access_denied()  # anonymous: the pipeline's buckets are private


# ---- the middleware --------------------------------------------------------------------------------
def _error_response(
    start_response: Callable[..., Any], refusal: Refusal, method: str, extra_headers: list[tuple[str, str]]
) -> list[bytes]:
    details = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in refusal.details.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{refusal.code}</Code><Message>{escape(refusal.message)}</Message>{details}"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    ).encode()
    reason = {400: "Bad Request", 403: "Forbidden"}.get(refusal.status, "Error")
    headers = [("Content-Type", "application/xml"), *extra_headers]
    if method == "HEAD":  # S3 answers HEAD with the status alone
        start_response(f"{refusal.status} {reason}", [*headers, ("Content-Length", "0")])
        return []
    start_response(f"{refusal.status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def bucket_of(environ: dict[str, Any], buckets: Collection[str]) -> str | None:
    """The pipeline bucket a request addresses, path style (``/<bucket>/<key>``, as the local stack
    and its clients use) or virtual-host style (``<bucket>.<host>``); None for anything else."""
    host_label = str(environ.get("HTTP_HOST", "")).partition(".")[0]
    if host_label in buckets:
        return host_label
    first = str(environ.get("PATH_INFO", "")).lstrip("/").partition("/")[0]
    return first if first in buckets else None


def guard(
    app: WSGIApp,
    buckets: Collection[str],
    secret_key: str,
    cors_rules: Callable[[str], Sequence[CorsRule] | None] = moto_bucket_cors,
) -> WSGIApp:
    """Wrap the emulator: requests to ``buckets`` are answered as S3 answers them (module docstring)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        bucket = bucket_of(environ, buckets)
        if bucket is None:
            return app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        if method == "OPTIONS":
            refusal, headers = preflight(environ, cors_rules(bucket))
            if refusal:
                return _error_response(start_response, refusal, method, [])
            start_response("200 OK", [*headers, ("Content-Length", "0")])
            return []

        origin = environ.get("HTTP_ORIGIN")
        rule = matching_rule(cors_rules(bucket) or (), origin, method) if origin else None
        cors = cors_response_headers(rule, origin, ()) if rule and origin else []
        if refusal := authenticate(environ, secret_key):
            return _error_response(start_response, refusal, method, cors)

        def with_bucket_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # moto's server adds "allow any origin" headers to every answer; S3 adds the rule's, or none.
            kept = [(name, value) for name, value in headers if not name.lower().startswith(_RESPONSE_CORS_HEADERS)]
            return start_response(status, kept + cors, exc_info)

        return app(environ, with_bucket_cors)

    return guarded
