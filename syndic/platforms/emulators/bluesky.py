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

Methods live in `_bluesky_methods`, record checks in `_bluesky_records`.
Records are checked as the PDS checks them; image blobs
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
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _bluesky_methods
from syndic.platforms.emulators.recorder import Recorder

NAME = "bluesky"
SERVICE_DID = "did:web:pds.syndic.invalid"
SPENT_TOKEN_MEMORY = 100_000

# Public on purpose: it opens nothing but the emulator.
SANDBOX_HANDLE = "syndic-sandbox.bsky.social"
SANDBOX_DID = "did:plc:syndicsandboxaaaaaaaaaaa"
SANDBOX_APP_PASSWORD = "syn2-dics-andb-oxaa"  # noqa: S105
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "identifier": SANDBOX_HANDLE,
    "app_password": SANDBOX_APP_PASSWORD,
}


@dataclass
class Account:
    did: str
    handle: str
    password: str
    app_passwords: set[str] = field(default_factory=set)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by URI
    blobs: dict[str, _bluesky_methods.Blob] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return f"{self.handle}@example.invalid"


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
                "scope": _bluesky_methods.REFRESH_SCOPE,
                "sub": account.did,
                "aud": SERVICE_DID,
                "jti": secrets.token_urlsafe(24),
                "iat": now,
                "appPass": scope == _bluesky_methods.APP_PASS_SCOPE,
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
        """The account and claims of a valid token; raises the PDS's `Refusal`."""
        claims = self._claims(token)
        if claims is None:
            raise _bluesky_methods.invalid(
                "Token could not be verified", "InvalidToken"
            )
        valid_after = self._refresh_valid_after if refresh else self._access_valid_after
        if claims.get("exp", 0) < time.time() or claims.get("iat", 0) < valid_after:
            raise _bluesky_methods.invalid("Token has expired", "ExpiredToken")
        scopes = (
            (_bluesky_methods.REFRESH_SCOPE,)
            if refresh
            else (_bluesky_methods.ACCESS_SCOPE, _bluesky_methods.APP_PASS_SCOPE)
        )
        if claims.get("scope") not in scopes:
            raise _bluesky_methods.invalid("Bad token scope", "InvalidToken")
        account = self.account(str(claims.get("sub", "")))
        if account is None:
            raise _bluesky_methods.invalid(
                "Token could not be verified", "InvalidToken"
            )
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
            raise _bluesky_methods.invalid("Token has been revoked", "ExpiredToken")

    def store_blob(self, account: Account, blob: _bluesky_methods.Blob) -> None:
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
            _bluesky_methods.limit(
                state,
                f"address:{request.client.host if request.client else ''}",
                state.address_rate_limit,
            )
            method = _bluesky_methods.METHODS.get(nsid)
            if method is None:
                raise _bluesky_methods.Refusal(
                    501, "MethodNotImplemented", "Method Not Implemented"
                )
            verb, handler = method
            if request.method != verb:
                raise _bluesky_methods.invalid(
                    f"Incorrect HTTP method ({request.method}) expected {verb}"
                )
            return await handler(state, request, raw)
        except _bluesky_methods.Refusal as refusal:
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


def _recorded(nsid: str, raw: bytes, request: Request) -> Any:
    if nsid == "com.atproto.repo.uploadBlob":
        return {
            "content_type": _bluesky_methods.content_type(request),
            "size": len(raw),
        }
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        return raw[:10_000].decode("utf-8", errors="replace")
    if isinstance(body, dict) and "password" in body:
        body["password"] = _base.REDACTED
    return body


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
