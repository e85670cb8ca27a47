"""A Bluesky PDS (AT Protocol XRPC), as strict as bsky.social for what syndic sends.

    POST /xrpc/com.atproto.server.createSession     identifier + password
    POST /xrpc/com.atproto.server.refreshSession    Bearer <refreshJwt>
    GET  /xrpc/com.atproto.server.getSession
    GET  /xrpc/com.atproto.identity.resolveHandle?handle=
    POST /xrpc/com.atproto.repo.uploadBlob          raw bytes, Content-Type
    POST /xrpc/com.atproto.repo.createRecord
    GET  /xrpc/com.atproto.repo.getRecord?repo=&collection=&rkey=

Sessions are HS256 JWTs with `exp` (access 2 h, refresh 90 days; a client
can decode them); the refresh token is good once (`refresh_grace` seconds
of reuse allowed, 0 unless set). Errors are `{"error": Name, "message"}`:
an expired token is 400 `ExpiredToken`, a bad one 400 `InvalidToken`, a
missing one 401 `AuthMissing`, a wrong password 401 `AuthenticationRequired`.
The session answer has no `didDoc`, so clients stay on this server.

Records are checked as the PDS does (see `_bluesky_records`); image blobs
must be this account's, with the stored `mimeType` and `size`, and at most
`blob_limit` bytes (1,000,000; 2,000,000 since April 2026). A client may
choose the record key; creating a key that exists answers 500
`InternalServerError` as the PDS does today, or 400 `RecordAlreadyExists`
(UNVERIFIED name) with `duplicate_rkey = "explicit"`.

Rates (configurable): 3000 requests per 5 min per client address,
createSession 30 per 5 min and 300 a day per account, writes 5000 points
an hour and 35,000 a day (a create costs 3). A 429 is `RateLimitExceeded`
with `RateLimit-Limit`, `-Remaining`, `-Reset` (epoch seconds) and
`-Policy`. Forced faults apply to createRecord and uploadBlob.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _bluesky_records, bluesky_richtext
from syndic.platforms.emulators.recorder import Recorder

NAME = "bluesky"
SERVICE_DID = "did:web:pds.syndic.invalid"
ACCESS_SCOPE = "com.atproto.access"
APP_PASS_SCOPE = "com.atproto.appPass"  # noqa: S105
REFRESH_SCOPE = "com.atproto.refresh"
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
SPENT_TOKEN_MEMORY = 100_000
_DAG_CBOR, _RAW, _SHA256 = 0x71, 0x55, 0x12

# Public on purpose: it opens nothing but the emulator.
SANDBOX_HANDLE = "syndic-sandbox.bsky.social"
SANDBOX_DID = "did:plc:syndicsandboxaaaaaaaaaaa"
SANDBOX_APP_PASSWORD = "syn2-dics-andb-oxaa"  # noqa: S105
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "identifier": SANDBOX_HANDLE,
    "app_password": SANDBOX_APP_PASSWORD,
}


@dataclass(frozen=True)
class Blob:
    cid: str
    mime_type: str
    size: int
    width: int | None = None
    height: int | None = None

    def as_ref(self) -> dict[str, Any]:
        return {
            "$type": "blob",
            "ref": {"$link": self.cid},
            "mimeType": self.mime_type,
            "size": self.size,
        }


@dataclass
class Account:
    did: str
    handle: str
    password: str
    app_passwords: set[str] = field(default_factory=set)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URI
    blobs: dict[str, Blob] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return f"{self.handle}@example.invalid"


class Refusal(Exception):
    """An XRPC error answer, raised from deep in a method."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "message": self.message},
            status_code=self.status,
            headers=self.headers,
        )


def invalid(message: str, error: str = "InvalidRequest") -> Refusal:
    return Refusal(400, error, message)


class BlueskyState(_base.EmulatorState):
    """Accounts with their records and blobs, sessions, and the knobs."""

    default_rate_limit = _base.RateLimit(requests=5000, per=3600.0)  # write points

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.daily_write_limit = _base.RateLimit(requests=35_000, per=86_400.0)
        self.session_rate_limit = _base.RateLimit(requests=30, per=300.0)
        self.session_daily_limit = _base.RateLimit(requests=300, per=86_400.0)
        self.address_rate_limit = _base.RateLimit(requests=3000, per=300.0)
        self.blob_limit = 1_000_000
        self.max_upload_bytes = 50 * 1024 * 1024
        self.access_lifetime = 2 * 60 * 60.0  # seconds
        self.refresh_lifetime = 90 * 24 * 60 * 60.0  # seconds
        self.refresh_grace = 0.0  # seconds
        self.duplicate_rkey = "internal_error"
        self.accounts: dict[str, Account] = {}
        self._handles: dict[str, str] = {}
        self._secret = secrets.token_bytes(32)
        self._used_refresh: dict[str, float] = {}
        self._access_valid_after = 0.0
        self._refresh_valid_after = 0.0
        self._register(
            Account(SANDBOX_DID, SANDBOX_HANDLE, secrets.token_urlsafe(16)),
            SANDBOX_APP_PASSWORD,
        )

    def add_account(self, *, handle: str | None = None) -> dict[str, Any]:
        """A new account with an app password; its credentials as a user stores them."""
        handle = handle or f"syndic-{secrets.token_hex(4)}.bsky.social"
        password = "-".join(_app_password_group() for _ in range(4))
        self._register(Account(_new_did(), handle, secrets.token_urlsafe(16)), password)
        return {"identifier": handle, "app_password": password}

    def add_handle(self, handle: str) -> str:
        """Someone else's account, to mention; its DID."""
        account = Account(_new_did(), handle, secrets.token_urlsafe(16))
        self._register(account, None)
        return account.did

    def account(self, identifier: str) -> Account | None:
        """An account by DID, handle or email (case-insensitive)."""
        key = identifier.strip().lower()
        with self._lock:
            did = key if key.startswith("did:") else self._handles.get(key)
            return self.accounts.get(did or "")

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers ExpiredToken from now on."""
        with self._lock:
            self._access_valid_after = time.time()

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far answers ExpiredToken from now on."""
        with self._lock:
            self._refresh_valid_after = time.time()

    def posts_of(self, identifier: str) -> dict[str, dict[str, Any]]:
        account = self.account(identifier)
        with self._lock:
            return dict(account.records) if account else {}

    def session(self, account: Account, scope: str) -> dict[str, Any]:
        now = time.time()
        access = self._jwt(
            "at+jwt",
            {"scope": scope, "sub": account.did, "aud": SERVICE_DID, "iat": now},
            now + self.access_lifetime,
        )
        refresh = self._jwt(
            "refresh+jwt",
            {
                "scope": REFRESH_SCOPE,
                "sub": account.did,
                "aud": SERVICE_DID,
                "jti": secrets.token_urlsafe(24),
                "iat": now,
                "appPass": scope == APP_PASS_SCOPE,
            },
            now + self.refresh_lifetime,
        )
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": account.handle,
            "did": account.did,
            "active": True,
        }

    def verify(self, token: str, *, refresh: bool) -> tuple[Account, dict[str, Any]]:
        """The account and claims of a valid token; raises `Refusal` as the PDS does."""
        claims = self._claims(token)
        if claims is None:
            raise invalid("Token could not be verified", "InvalidToken")
        valid_after = self._refresh_valid_after if refresh else self._access_valid_after
        if claims.get("exp", 0) < time.time() or claims.get("iat", 0) < valid_after:
            raise invalid("Token has expired", "ExpiredToken")
        scopes = (REFRESH_SCOPE,) if refresh else (ACCESS_SCOPE, APP_PASS_SCOPE)
        if claims.get("scope") not in scopes:
            raise invalid("Bad token scope", "InvalidToken")
        account = self.account(str(claims.get("sub", "")))
        if account is None:
            raise invalid("Token could not be verified", "InvalidToken")
        return account, claims

    def use_refresh(self, jti: str) -> None:
        """Spend a refresh token; a spent one is revoked after the grace period."""
        now = time.time()
        with self._lock:
            first = self._used_refresh.get(jti)
            if first is None:
                self._used_refresh[jti] = now
                if len(self._used_refresh) > SPENT_TOKEN_MEMORY:
                    self._used_refresh.pop(next(iter(self._used_refresh)))
                return
        if now - first > self.refresh_grace:
            raise invalid("Token has been revoked", "ExpiredToken")

    def store_blob(self, account: Account, blob: Blob) -> None:
        with self._lock:
            account.blobs[blob.cid] = blob

    def store_record(self, account: Account, uri: str, record: dict[str, Any]) -> bool:
        """Store a new record; False if the URI is taken."""
        with self._lock:
            if uri in account.records:
                return False
            account.records[uri] = record
            return True

    def _register(self, account: Account, app_password: str | None) -> None:
        with self._lock:
            if app_password is not None:
                account.app_passwords.add(app_password)
            self.accounts[account.did] = account
            self._handles[account.handle.lower()] = account.did
            self._handles[account.email.lower()] = account.did

    def _jwt(self, kind: str, claims: dict[str, Any], expires: float) -> str:
        header = _b64(json.dumps({"typ": kind, "alg": "HS256"}).encode())
        payload = _b64(json.dumps({**claims, "exp": int(expires)}).encode())
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), "sha256")
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def _claims(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self._secret, f"{parts[0]}.{parts[1]}".encode(), "sha256")
        if not hmac.compare_digest(_b64(expected.digest()), parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        return claims if isinstance(claims, dict) else None


Handler = Callable[[BlueskyState, Request, bytes], Awaitable[Response]]


def routes(state: BlueskyState, recorder: Recorder) -> list[BaseRoute]:
    """The XRPC routes, bound to `state`, recording into `recorder`."""

    async def xrpc(request: Request) -> Response:
        nsid = request.path_params["nsid"]
        raw = await request.body()
        recorder.record(
            NAME,
            request.method,
            f"/xrpc/{nsid}",
            _recorded(nsid, raw, request),
            query=dict(request.query_params),
        )
        try:
            _limit(
                state,
                f"address:{request.client.host if request.client else ''}",
                state.address_rate_limit,
            )
            method = METHODS.get(nsid)
            if method is None:
                raise Refusal(501, "MethodNotImplemented", "Method Not Implemented")
            verb, handler = method
            if request.method != verb:
                raise invalid(
                    f"Incorrect HTTP method ({request.method}) expected {verb}"
                )
            return await handler(state, request, raw)
        except Refusal as refusal:
            return refusal.response()

    async def not_found(request: Request) -> Response:
        recorder.record(NAME, request.method, "/" + request.path_params["path"], None)
        return JSONResponse(
            {"error": "NotFound", "message": "Not Found"}, status_code=404
        )

    return [
        Route("/xrpc/{nsid}", xrpc, methods=["GET", "POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


async def create_session(state: BlueskyState, request: Request, raw: bytes) -> Response:
    body = _json_input(request, raw)
    for name in ("identifier", "password"):
        if not isinstance(body.get(name), str):
            raise invalid(f'Input must have the property "{name}"')
    identifier, password = body["identifier"], body["password"]
    key = f"session:{identifier.strip().lower()}"
    _limit(state, key, state.session_rate_limit)
    _limit(state, f"{key}:day", state.session_daily_limit)

    account = state.account(identifier)
    if account is not None and secrets.compare_digest(account.password, password):
        scope = ACCESS_SCOPE
    elif account is not None and password in account.app_passwords:
        scope = APP_PASS_SCOPE
    else:
        raise Refusal(401, "AuthenticationRequired", "Invalid identifier or password")
    session = state.session(account, scope)
    return JSONResponse({**session, "email": account.email, "emailConfirmed": True})


async def refresh_session(
    state: BlueskyState, request: Request, raw: bytes
) -> Response:
    account, claims = state.verify(_bearer(request), refresh=True)
    state.use_refresh(str(claims.get("jti", "")))
    scope = APP_PASS_SCOPE if claims.get("appPass") else ACCESS_SCOPE
    return JSONResponse(state.session(account, scope))


async def get_session(state: BlueskyState, request: Request, raw: bytes) -> Response:
    account, _ = state.verify(_bearer(request), refresh=False)
    return JSONResponse(
        {
            "handle": account.handle,
            "did": account.did,
            "email": account.email,
            "active": True,
        }
    )


async def resolve_handle(state: BlueskyState, request: Request, raw: bytes) -> Response:
    handle = request.query_params.get("handle")
    if handle is None:
        raise invalid('Params must have the property "handle"')
    if _bluesky_records.HANDLE.fullmatch(handle) is None:
        raise invalid("Params/handle must be a valid handle")
    account = state.account(handle)
    if account is None:
        raise invalid("Unable to resolve handle", "HandleNotFound")
    return JSONResponse({"did": account.did})


async def upload_blob(state: BlueskyState, request: Request, raw: bytes) -> Response:
    account, _ = state.verify(_bearer(request), refresh=False)
    content_type = _content_type(request)
    if not content_type:
        raise invalid("Request encoding (Content-Type) required but not provided")
    if not raw:
        raise invalid("A request body is expected but none was provided")
    if len(raw) > state.max_upload_bytes:
        raise Refusal(413, "PayloadTooLarge", "request entity too large")
    await _forced(state)

    mime_type, width, height = _sniff(raw, content_type)
    blob = Blob(_cid(_RAW, raw), mime_type, len(raw), width, height)
    state.store_blob(account, blob)
    return JSONResponse({"blob": blob.as_ref()})


async def create_record(state: BlueskyState, request: Request, raw: bytes) -> Response:
    account, _ = state.verify(_bearer(request), refresh=False)
    body = _json_input(request, raw)
    try:
        repo, collection, rkey, record = _bluesky_records.create_input(body)
    except _bluesky_records.Invalid as exc:
        raise invalid(str(exc)) from exc
    owner = state.account(repo)
    if owner is None:
        raise invalid(f"Could not find repo: {repo}")
    if owner is not account:
        raise Refusal(401, "AuthenticationRequired", "Authentication Required")
    headers = _limit(state, f"writes:{account.did}", state.rate_limit, cost=3)
    _limit(state, f"writes:{account.did}:day", state.daily_write_limit, cost=3)
    await _forced(state)

    validate = body.get("validate")
    if collection == _bluesky_records.POST and validate is not False:
        try:
            _bluesky_records.check_post(record)
        except _bluesky_records.Invalid as exc:
            raise invalid(str(exc)) from exc
        _check_blobs(state, account, record)
    rkey = rkey or bluesky_richtext.tid(int(time.time() * 1_000_000), 0)
    uri = f"at://{account.did}/{collection}/{rkey}"
    cid = _cid(_DAG_CBOR, json.dumps(record, sort_keys=True).encode())
    if not state.store_record(account, uri, {"uri": uri, "cid": cid, "value": record}):
        if state.duplicate_rkey == "explicit":
            raise invalid(f"Record already exists: {uri}", "RecordAlreadyExists")
        raise Refusal(500, "InternalServerError", "Internal Server Error")
    rev = bluesky_richtext.tid(int(time.time() * 1_000_000), 1)
    return JSONResponse(
        {
            "uri": uri,
            "cid": cid,
            "commit": {"cid": _cid(_DAG_CBOR, rev.encode()), "rev": rev},
            "validationStatus": "valid" if validate is not False else "unknown",
        },
        headers=headers,
    )


async def get_record(state: BlueskyState, request: Request, raw: bytes) -> Response:
    params = request.query_params
    for name in ("repo", "collection", "rkey"):
        if name not in params:
            raise invalid(f'Params must have the property "{name}"')
    account = state.account(params["repo"])
    if account is None:
        raise invalid(f"Could not find repo: {params['repo']}")
    uri = f"at://{account.did}/{params['collection']}/{params['rkey']}"
    stored = state.posts_of(account.did).get(uri)
    if stored is None:
        raise invalid(f"Could not locate record: {uri}", "RecordNotFound")
    return JSONResponse(stored)


METHODS: dict[str, tuple[str, Handler]] = {
    "com.atproto.server.createSession": ("POST", create_session),
    "com.atproto.server.refreshSession": ("POST", refresh_session),
    "com.atproto.server.getSession": ("GET", get_session),
    "com.atproto.identity.resolveHandle": ("GET", resolve_handle),
    "com.atproto.repo.uploadBlob": ("POST", upload_blob),
    "com.atproto.repo.createRecord": ("POST", create_record),
    "com.atproto.repo.getRecord": ("GET", get_record),
}


def _check_blobs(
    state: BlueskyState, account: Account, record: Mapping[str, Any]
) -> None:
    for path, ref in _bluesky_records.blob_refs(record):
        link = ref["ref"].get("$link")
        stored = account.blobs.get(str(link))
        if stored is None:
            raise invalid(f"Could not find blob: {link}", "BlobNotFound")
        if ref.get("mimeType") != stored.mime_type:
            raise invalid(
                "Referenced Mimetype does not match stored blob. Expected: "
                f"{stored.mime_type}, Got: {ref.get('mimeType')}",
                "InvalidMimeType",
            )
        if ref.get("size") != stored.size:
            raise invalid(
                "Referenced size does not match stored blob. Expected: "
                f"{stored.size}, Got: {ref.get('size')}",
                "InvalidSize",
            )
        if not stored.mime_type.startswith("image/"):
            raise invalid(
                f"Invalid {_bluesky_records.POST} record: {path} mime type "
                f"{stored.mime_type} not accepted"
            )
        if stored.size > state.blob_limit:
            raise invalid(
                f"Invalid {_bluesky_records.POST} record: {path} file too big "
                f"(max {state.blob_limit} bytes)"
            )


def _limit(
    state: BlueskyState, bucket: str, rate: _base.RateLimit, *, cost: int = 1
) -> dict[str, str]:
    """Count against `bucket`; its headers, or a 429 `Refusal` once it is full."""
    window = state.hit(bucket, cost=cost, limit=rate)
    headers = {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(int(window.reset_at + 0.999)),
        "RateLimit-Policy": f"{window.limit};w={int(rate.per)}",
    }
    if not window.allowed:
        raise Refusal(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
    return headers


async def _forced(state: BlueskyState) -> None:
    forced = await _base.apply(state.take_fault())
    if forced is None:
        return
    status, retry_after = forced
    if status == 429:
        reset = time.time() + (retry_after if retry_after is not None else 1.0)
        raise Refusal(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            {"RateLimit-Remaining": "0", "RateLimit-Reset": f"{reset:.0f}"},
        )
    phrase = HTTPStatus(status).phrase
    raise Refusal(status, phrase.replace(" ", ""), phrase)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        raise Refusal(401, "AuthMissing", "Authentication Required")
    return header.removeprefix("Bearer ")


def _json_input(request: Request, raw: bytes) -> dict[str, Any]:
    content_type = _content_type(request)
    if not raw:
        raise invalid("A request body is expected but none was provided")
    if not content_type:
        raise invalid("Request encoding (Content-Type) required but not provided")
    if content_type != "application/json":
        raise invalid(f"Wrong request encoding (Content-Type): {content_type}")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid("Input must be valid JSON") from exc
    if not isinstance(body, dict):
        raise invalid("Input must be an object")
    return body


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _sniff(data: bytes, declared: str) -> tuple[str, int | None, int | None]:
    """The stored MIME type (sniffed from the bytes, as the PDS does) and size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format or "", image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return declared, None, None
    return MIME_TYPES.get(kind, declared), width, height


def _recorded(nsid: str, raw: bytes, request: Request) -> Any:
    if nsid == "com.atproto.repo.uploadBlob":
        return {"content_type": _content_type(request), "size": len(raw)}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return raw[:10_000].decode("utf-8", errors="replace")
    if isinstance(body, dict) and "password" in body:
        body["password"] = _base.REDACTED
    return body


def _cid(codec: int, data: bytes) -> str:
    """A CIDv1 (base32) of `data` under `codec`, SHA-256."""
    digest = hashlib.sha256(data).digest()
    raw = bytes([0x01, codec, _SHA256, len(digest)]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _new_did() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "did:plc:" + "".join(secrets.choice(alphabet) for _ in range(24))


def _app_password_group() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(secrets.choice(alphabet) for _ in range(4))


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=BlueskyState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
