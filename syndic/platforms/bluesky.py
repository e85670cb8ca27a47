"""Bluesky through the AT Protocol: XRPC calls on the PDS at the base URL.

Credentials: `{"identifier": handle, DID or email, "app_password":
"xxxx-xxxx-xxxx-xxxx"}` (an app password from the account's settings; the
account password is refused).

Sessions: `createSession` once per account, kept in memory and reused (the
PDS allows 30 a 5 minutes and 300 a day). The access JWT's `exp` is read;
the session is refreshed with `refreshSession` a quarter of its lifetime
(at most 15 minutes) before it ends, or when the PDS answers `ExpiredToken`;
if the refresh token is refused too, a new session is created.

A post's text takes 300 graphemes and 3000 UTF-8 bytes; over either it is
refused by `validate`, or with the `split` option cut into a thread (never
inside a link, mention or tag; each reply names the first post as `root`
and the previous as `parent`). Links, mentions and tags become facets at
UTF-8 byte offsets (see `emulators.bluesky_richtext`); a mention's handle
is resolved to its DID with `resolveHandle`, and one that does not resolve
stays plain text. Up to 4 images go as blobs on the first post, with their
alt text and aspect ratio; an image over the blob limit (1,000,000 bytes
unless `blob_limit` says otherwise) is re-encoded as JPEG, smaller if need
be, just before it is uploaded.

Each post's record key is a TID derived from `draft.idempotency_key` and
its position in the thread, so a retry cannot publish twice: when the PDS
refuses a key that exists (today a 500; an explicit error later), the
record is read back with `getRecord` and counted as published. Without an
idempotency key the PDS picks the keys, and a failure after the first post
is a `PermanentError` with code `partially_published`.

Options: `split` (default false), `langs` (up to 3 BCP 47 tags), `tags`
(up to 8 hashtags that are not in the text).

The Receipt's `remote_id` is the first post's `at://` URI, `url` its
bsky.app page, `extra_ids` the URIs of the replies.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import (
    _bluesky_images,
    _bluesky_rules,
    _bluesky_session,
    _http,
    base,
)
from syndic.platforms.emulators import bluesky_richtext as richtext

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds
DEFAULT_BLOB_LIMIT = 1_000_000  # bytes
POST = "app.bsky.feed.post"
PUBLIC_URL = "https://bsky.app"

APP_PASSWORD = re.compile(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}")
HANDLE = re.compile(
    r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
)
DID = re.compile(r"did:(plc|web):[a-zA-Z0-9._:%-]+")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CACHE_SIZE = 1024


@dataclass(frozen=True)
class _Credentials:
    identifier: str
    password: str

    def __repr__(self) -> str:
        return f"_Credentials({self.identifier!r})"

    @property
    def key(self) -> str:
        return hashlib.sha256(
            f"{self.identifier}\0{self.password}".encode()
        ).hexdigest()


def _credentials(credentials: Mapping[str, Any]) -> _Credentials:
    identifier = credentials.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        raise ValueError("identifier must be the account's handle, DID or email")
    identifier = identifier.strip().removeprefix("@")
    if not identifier.startswith("did:"):
        identifier = identifier.lower()
    if not (
        HANDLE.fullmatch(identifier)
        or DID.fullmatch(identifier)
        or EMAIL.fullmatch(identifier)
    ):
        raise ValueError("identifier must be the account's handle, DID or email")
    password = credentials.get("app_password")
    password = password.strip().lower() if isinstance(password, str) else ""
    if APP_PASSWORD.fullmatch(password) is None:
        raise ValueError(
            "app_password must be an app password (xxxx-xxxx-xxxx-xxxx, from the "
            "account's settings), not the account password"
        )
    return _Credentials(identifier, password)


@dataclass(frozen=True)
class _Image:
    blob: dict[str, Any]
    alt: str
    width: int
    height: int

    def as_json(self) -> dict[str, Any]:
        return {
            "image": self.blob,
            "alt": self.alt,
            "aspectRatio": {"width": self.width, "height": self.height},
        }


class BlueskyAdapter:
    """Publishes through the account's PDS; see the module docstring."""

    name: ClassVar[str] = "bluesky"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
        blob_limit: int = DEFAULT_BLOB_LIMIT,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it when `settings` is given. `blob_limit` is the largest
        image blob, in bytes."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        self._blob_limit = blob_limit
        self._sessions: dict[str, _bluesky_session.Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._dids: dict[str, str] = {}

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """Identifier and app password, normalised; else ValueError."""
        checked = _credentials(credentials)
        return {"identifier": checked.identifier, "app_password": checked.password}

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        problems = _bluesky_rules.option_problems(draft.options)
        problems.extend(_bluesky_rules.media_problems(draft.media))
        try:
            _bluesky_rules.posts(draft)
        except _bluesky_rules.Refused as refused:
            problems.append(refused.problem)
        if not draft.options.get("split", False):
            problems.extend(_bluesky_rules.limit_problems(draft.text))
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Upload the images, then create one record per post of the thread."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            checked = _credentials(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"bluesky: {exc}") from exc

        session = await self._session(checked)
        images = [await self._upload(checked, item) for item in draft.media]
        refs: list[dict[str, str]] = []
        for number, text in enumerate(_bluesky_rules.posts(draft)):
            record = await self._record(draft, text, number, images, refs)
            rkey = (
                richtext.derived_tid(draft.idempotency_key, number)
                if draft.idempotency_key
                else None
            )
            attempt = functools.partial(self._create, checked, record, rkey)
            if refs and rkey is None:
                ref = await _http.follow_up(
                    attempt,
                    platform=self.name,
                    published=[ref["uri"] for ref in refs],
                    max_wait=self._timeout,
                )
            else:
                ref = await attempt()
            refs.append(ref)

        first = refs[0]["uri"]
        rkey = first.rsplit("/", 1)[-1]
        return base.Receipt(
            remote_id=first,
            url=f"{PUBLIC_URL}/profile/{session.handle}/post/{rkey}",
            extra_ids=tuple(ref["uri"] for ref in refs[1:]),
        )

    async def _record(
        self,
        draft: base.Draft,
        text: str,
        number: int,
        images: list[_Image],
        refs: list[dict[str, str]],
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        facets = await self._facets(text)
        if facets:
            record["facets"] = facets
        if draft.options.get("langs"):
            record["langs"] = list(draft.options["langs"])
        if number == 0 and draft.options.get("tags"):
            record["tags"] = list(draft.options["tags"])
        if number == 0 and images:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [image.as_json() for image in images],
            }
        if refs:
            record["reply"] = {"root": refs[0], "parent": refs[-1]}
        return record

    async def _facets(self, text: str) -> list[dict[str, Any]]:
        """The text's facets as the record holds them; unresolved mentions dropped."""
        facets = []
        for facet in richtext.detect(text):
            feature: dict[str, Any] = {"$type": facet.kind}
            if facet.kind == richtext.LINK:
                feature["uri"] = facet.value
            elif facet.kind == richtext.TAG:
                feature["tag"] = facet.value
            else:
                did = await self._resolve(facet.value)
                if did is None:
                    continue
                feature["did"] = did
            start, end = facet.byte_range(text)
            facets.append(
                {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}
            )
        return facets

    async def _resolve(self, handle: str) -> str | None:
        key = handle.lower()
        if key in self._dids:
            return self._dids[key]
        response = await self._send(
            "GET",
            "com.atproto.identity.resolveHandle",
            "resolve_handle",
            params={"handle": key},
        )
        body = _http.json_object(response)
        if response.status_code == 400 and body.get("error") in (
            "HandleNotFound",
            "InvalidRequest",
        ):
            log.warning(
                "bluesky_mention_unresolved",
                extra={"platform": self.name, "handle": key},
            )
            return None
        if response.status_code != 200 or not isinstance(body.get("did"), str):
            raise _error_of(response)
        _remember(self._dids, key, body["did"])
        return str(body["did"])

    async def _upload(self, credentials: _Credentials, item: base.Media) -> _Image:
        try:
            data, width, height = await asyncio.to_thread(
                _bluesky_images.fit_image, item.data, self._blob_limit
            )
        except ValueError as exc:
            raise base.PermanentError(
                f"bluesky: {item.filename}: {exc}", code="bluesky.media.too_large"
            ) from exc
        except (OSError, Image.DecompressionBombError) as exc:
            raise base.PermanentError(
                f"bluesky: {item.filename} is not a readable image",
                code="bluesky.media.unreadable",
            ) from exc
        content_type = item.content_type if data is item.data else "image/jpeg"
        answer = await self._authed(
            credentials,
            "POST",
            "com.atproto.repo.uploadBlob",
            "upload_blob",
            content=data,
            headers={"Content-Type": content_type},
        )
        blob = answer.get("blob")
        if not isinstance(blob, dict):
            raise base.PermanentError(
                "bluesky: the upload named no blob", code="bad_answer"
            )
        return _Image(blob, item.alt, width, height)

    async def _create(
        self, credentials: _Credentials, record: dict[str, Any], rkey: str | None
    ) -> dict[str, str]:
        """Create the record; one whose key exists already counts as created."""
        session = await self._session(credentials)
        body: dict[str, Any] = {
            "repo": session.did,
            "collection": POST,
            "record": record,
        }
        if rkey is not None:
            body["rkey"] = rkey
        try:
            answer = await self._authed(
                credentials,
                "POST",
                "com.atproto.repo.createRecord",
                "create_record",
                json=body,
            )
        except base.PlatformError as exc:
            if rkey is None or exc.code not in ("server_error", "already_exists"):
                raise
            existing = await self._existing(session, rkey)
            if existing is None:
                raise
            log.info(
                "bluesky_record_exists", extra={"platform": self.name, "rkey": rkey}
            )
            return existing
        return _strong_ref(answer)

    async def _existing(
        self, session: _bluesky_session.Session, rkey: str
    ) -> dict[str, str] | None:
        """The post at `rkey` if the PDS has it; None if not or if it cannot say."""
        try:
            response = await self._send(
                "GET",
                "com.atproto.repo.getRecord",
                "get_record",
                params={"repo": session.did, "collection": POST, "rkey": rkey},
            )
        except base.PlatformError:
            return None
        if response.status_code != 200:
            return None
        return _strong_ref(_http.json_object(response))

    async def _authed(
        self,
        credentials: _Credentials,
        method: str,
        nsid: str,
        endpoint: str,
        **request: Any,
    ) -> dict[str, Any]:
        """A call with the session's access token; renewed once on ExpiredToken."""
        session = await self._session(credentials)
        headers = dict(request.pop("headers", {}))
        headers["Authorization"] = f"Bearer {session.access}"
        response = await self._send(method, nsid, endpoint, headers=headers, **request)
        if _expired(response):
            session = await self._session(credentials, stale=session)
            headers["Authorization"] = f"Bearer {session.access}"
            response = await self._send(
                method, nsid, endpoint, headers=headers, **request
            )
        if response.status_code != 200:
            raise _error_of(response)
        return _http.json_object(response)

    async def _session(
        self,
        credentials: _Credentials,
        *,
        stale: _bluesky_session.Session | None = None,
    ) -> _bluesky_session.Session:
        """The account's session: cached, refreshed or new; one call at a time."""
        key = credentials.key
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            session = self._sessions.get(key)
            if (
                session is not None
                and session != stale
                and time.time() < session.refresh_after
            ):
                return session
            renewed = await self._refreshed(session) if session is not None else None
            if renewed is None:
                renewed = await self._created(credentials)
            _remember(self._sessions, key, renewed)
            if len(self._locks) > _CACHE_SIZE:
                self._locks.pop(next(iter(self._locks)))
            return renewed

    async def _refreshed(
        self, session: _bluesky_session.Session
    ) -> _bluesky_session.Session | None:
        """A refreshed session; None when the refresh token is refused."""
        response = await self._send(
            "POST",
            "com.atproto.server.refreshSession",
            "refresh_session",
            headers={"Authorization": f"Bearer {session.refresh}"},
        )
        if response.status_code == 200:
            return _bluesky_session.session_of(_http.json_object(response))
        error = _http.json_object(response).get("error")
        if response.status_code in (400, 401) and error in (
            "ExpiredToken",
            "InvalidToken",
            "AuthenticationRequired",
        ):
            return None
        raise _error_of(response)

    async def _created(self, credentials: _Credentials) -> _bluesky_session.Session:
        response = await self._send(
            "POST",
            "com.atproto.server.createSession",
            "create_session",
            json={
                "identifier": credentials.identifier,
                "password": credentials.password,
            },
        )
        if response.status_code != 200:
            raise _error_of(response)
        return _bluesky_session.session_of(_http.json_object(response))

    async def _send(
        self, method: str, nsid: str, endpoint: str, **request: Any
    ) -> httpx.Response:
        return await _http.send(
            self._client,
            method,
            f"{self._base_url}/xrpc/{nsid}",
            platform=self.name,
            endpoint=endpoint,
            phase_timeout=self._timeout,
            **request,
        )


def _expired(response: httpx.Response) -> bool:
    error = _http.json_object(response).get("error")
    return response.status_code == 400 and error == "ExpiredToken"


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if key not in cache and len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _strong_ref(answer: Mapping[str, Any]) -> dict[str, str]:
    uri, cid = answer.get("uri"), answer.get("cid")
    if not isinstance(uri, str) or not isinstance(cid, str):
        raise base.PermanentError("bluesky: the answer holds no uri", code="bad_answer")
    return {"uri": uri, "cid": cid}


def _error_of(response: httpx.Response) -> base.PlatformError:
    """The PDS's `{"error", "message"}` answer as one of ours."""
    status = response.status_code
    body = _http.json_object(response)
    error = str(body.get("error") or "")
    message = str(body.get("message") or response.reason_phrase or status)
    described = f"bluesky: {error + ': ' if error else ''}{message}"

    if status == 429:
        return base.TransientError(
            described, code="rate_limited", retry_after=_retry_after(response.headers)
        )
    if status >= 500:
        return base.TransientError(
            f"bluesky: server error {status}", code="server_error"
        )
    if status == 401 or error in (
        "ExpiredToken",
        "InvalidToken",
        "AuthFactorTokenRequired",
        "AccountTakedown",
    ):
        return base.CredentialsRejected(described)
    if "AlreadyExists" in error or "already exists" in message.lower():
        return base.PermanentError(described, code="already_exists")
    if status == 413:
        return base.PermanentError(described, code="too_large")
    return base.PermanentError(described, code="rejected")


def _retry_after(headers: httpx.Headers) -> float | None:
    reset = _http.seconds(headers.get("RateLimit-Reset"))
    if reset is not None:
        return max(reset - time.time(), 0.0)
    return _http.seconds(headers.get("Retry-After"))
