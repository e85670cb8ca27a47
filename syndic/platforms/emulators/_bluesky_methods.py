"""The XRPC methods the Bluesky emulator serves, checked in the PDS's order.

Each method authenticates (createSession, resolveHandle and getRecord need
no token), reads its input, counts against its rate, consumes a forced
fault if one is queued (uploadBlob and createRecord), and only then stores.
A refused call stores nothing and answers `{"error": Name, "message"}`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syndic.platforms.emulators import _base, _bluesky_records, bluesky_richtext

if TYPE_CHECKING:
    from syndic.platforms.emulators.bluesky import Account, BlueskyState

ACCESS_SCOPE = "com.atproto.access"
APP_PASS_SCOPE = "com.atproto.appPass"  # noqa: S105
REFRESH_SCOPE = "com.atproto.refresh"
MIME_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
_DAG_CBOR, _RAW, _SHA256 = 0x71, 0x55, 0x12


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


Handler = Callable[["BlueskyState", Request, bytes], Awaitable[Response]]


async def create_session(state: BlueskyState, request: Request, raw: bytes) -> Response:
    body = _json_input(request, raw)
    for name in ("identifier", "password"):
        if not isinstance(body.get(name), str):
            raise invalid(f'Input must have the property "{name}"')
    identifier, password = body["identifier"], body["password"]
    key = f"session:{identifier.strip().lower()}"
    limit(state, key, state.session_rate_limit)
    limit(state, f"{key}:day", state.session_daily_limit)

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
    declared = content_type(request)
    if not declared:
        raise invalid("Request encoding (Content-Type) required but not provided")
    if not raw:
        raise invalid("A request body is expected but none was provided")
    if len(raw) > state.max_upload_bytes:
        raise Refusal(413, "PayloadTooLarge", "request entity too large")
    await _forced(state)

    mime_type, width, height = _sniff(raw, declared)
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
    headers = limit(state, f"writes:{account.did}", state.rate_limit, cost=3)
    limit(state, f"writes:{account.did}:day", state.daily_write_limit, cost=3)
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


def limit(
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
    declared = content_type(request)
    if not raw:
        raise invalid("A request body is expected but none was provided")
    if not declared:
        raise invalid("Request encoding (Content-Type) required but not provided")
    if declared != "application/json":
        raise invalid(f"Wrong request encoding (Content-Type): {declared}")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid("Input must be valid JSON") from exc
    if not isinstance(body, dict):
        raise invalid("Input must be an object")
    return body


def content_type(request: Request) -> str:
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


def _cid(codec: int, data: bytes) -> str:
    """A CIDv1 (base32) of `data` under `codec`, SHA-256."""
    digest = hashlib.sha256(data).digest()
    raw = bytes([0x01, codec, _SHA256, len(digest)]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")
