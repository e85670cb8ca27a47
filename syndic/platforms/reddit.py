"""Reddit through a script app (password grant) and `POST /api/submit`.

Credentials: `{"client_id", "client_secret", "username", "password"}` of a
script app whose developers include `username`; optional `user_agent`
(default `syndic:<client_id>:<version> (by /u/<username>)`, the unique agent
Reddit asks for). A bearer token comes from `<base>/api/v1/access_token`
(`token_path`, configurable), is cached per app and user until shortly
before it expires, and is fetched again when it runs out or the API calls
it invalid.

One post is one submission, form-encoded with `api_type=json`. Reddit
answers refusals inside a 200 body (`json.errors`, triples of code,
message and field): `RATELIMIT` ("take a break for N minutes") becomes a
`TransientError` with `retry_after`, `SUBMIT_VALIDATION_FLAIR_REQUIRED` a
`PermanentError` with code `reddit.flair.required`, anything else a
`PermanentError` with Reddit's messages. The `x-ratelimit-*` headers
(`reset` in seconds left) are remembered per app: a call on an exhausted
window waits for the reset when that fits in the timeout, else fails as a
`TransientError` that was never sent.

An image post (`kind` image) leases an upload (`/api/media/asset.json`),
posts the file to the leased storage URL, submits the media URL, and reads
the new post's URL from the websocket Reddit names in its answer. If that
websocket says nothing, the post may exist: the error is a `PermanentError`
with code `unknown_outcome`, since retrying could publish it twice.

Options: `subreddit` (without `r/`; default the user's profile,
`u_<username>`), `title` (required), `kind` (self, link or image; default
image with an attached image, link with `url`, else self), `url`,
`flair_id`, `flair_text`, `nsfw`, `spoiler`, `send_replies` (default true),
`resubmit` (default true). The draft text is the Markdown body.

Reddit accepts no client-chosen key, so `idempotency_key` is not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import websockets.asyncio.client
import websockets.exceptions

from syndic import config
from syndic.platforms import _http, _reddit_rules, base

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds
TOKEN_PATH = "/api/v1/access_token"  # noqa: S105
PUBLIC_URL = "https://www.reddit.com"
TOKEN_MARGIN = 60.0  # seconds before expiry a token is renewed

_RATELIMIT_DELAY = re.compile(
    r"(\d+)\s*(milliseconds?|seconds?|minutes?|hours?)", re.IGNORECASE
)
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1.0, "minute": 60.0, "hour": 3600.0}
_POST_ID = re.compile(r"/comments/([a-z0-9]+)(?:/|$)")
_CACHE_SIZE = 1024


def ratelimit_seconds(message: str) -> float | None:
    """The wait a `RATELIMIT` message asks for ("... 5 minutes ..."), in seconds."""
    match = _RATELIMIT_DELAY.search(message)
    if match is None:
        return None
    unit = match.group(2).lower().rstrip("s")
    return int(match.group(1)) * _UNIT_SECONDS[unit]


def submit_failure(errors: Sequence[Any]) -> base.PlatformError:
    """`json.errors` of a 200 answer as one of ours.

    Only a `RATELIMIT` alone is worth retrying; with any other error the
    submission is refused whatever the wait.
    """
    triples = [_triple(error) for error in errors]
    codes = {code for code, _, _ in triples}
    described = "; ".join(
        f"{code}: {message}" + (f" ({field})" if field else "")
        for code, message, field in triples
    )
    if codes == {"RATELIMIT"}:
        return base.TransientError(
            f"reddit: {described}",
            code="rate_limited",
            retry_after=ratelimit_seconds(triples[0][1]),
        )
    if "SUBMIT_VALIDATION_FLAIR_REQUIRED" in codes:
        return base.PermanentError(f"reddit: {described}", code="reddit.flair.required")
    return base.PermanentError(f"reddit: {described}", code="rejected")


def wait_before_call(
    remaining: float | None, reset_at: float | None, now: float
) -> float:
    """Seconds to wait before the next call of an app, from its last headers."""
    if remaining is None or reset_at is None or remaining >= 1:
        return 0.0
    return max(reset_at - now, 0.0)


def _triple(error: Any) -> tuple[str, str, str]:
    if isinstance(error, list | tuple) and error:
        parts = [str(part) if part is not None else "" for part in error]
        parts += ["", ""]
        return parts[0], parts[1], parts[2]
    return "UNKNOWN", str(error), ""


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # monotonic seconds


@dataclass
class _Window:
    remaining: float | None = None
    reset_at: float | None = None  # monotonic seconds


@dataclass(frozen=True)
class _Submission:
    form: dict[str, str]
    kind: str


class RedditAdapter:
    """Publishes one submission per post; see the module docstring."""

    name: ClassVar[str] = "reddit"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
        token_path: str = TOKEN_PATH,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it when `settings` is given, and so does
        `settings.reddit_token_path` for `token_path`. A `token_path` that is
        a full URL is used as it is (Reddit documents www.reddit.com)."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        if settings is not None:
            token_path = settings.reddit_token_path
        if urlsplit(token_path).scheme:
            self._token_url = token_path
        else:
            self._token_url = f"{self._base_url}/{token_path.lstrip('/')}"
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._windows: dict[str, _Window] = {}

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """The script app and its user, trimmed; else ValueError."""
        account = _reddit_rules.account(credentials)
        checked = {
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "username": account.username,
            "password": account.password,
        }
        if credentials.get("user_agent"):
            checked["user_agent"] = account.user_agent
        return checked

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        return _reddit_rules.problems(draft)

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Submit the post (uploading its image first); the Receipt names it."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            account = _reddit_rules.account(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"reddit: {exc}") from exc

        submission = _submission(draft, account)
        if submission.kind == "image":
            submission.form["url"] = await self._upload(account, draft.media[0])

        response = await self._api(
            account, "POST", "/api/submit", endpoint="submit", data=submission.form
        )
        if response.status_code != 200:
            raise _error_of(response)
        answer = _http.json_object(response).get("json")
        if not isinstance(answer, Mapping):
            raise base.PermanentError(
                "reddit: the answer is not a submission result", code="bad_answer"
            )
        if answer.get("errors"):
            raise submit_failure(answer["errors"])
        data = answer.get("data")
        data = data if isinstance(data, Mapping) else {}

        if submission.kind == "image":
            return await self._image_receipt(account, data)
        return _receipt(data)

    async def _api(
        self,
        account: _reddit_rules.Account,
        method: str,
        path: str,
        *,
        endpoint: str,
        **request: Any,
    ) -> httpx.Response:
        """One OAuth API call; a token the API calls invalid is renewed once."""
        if account.client_id not in self._windows and len(self._windows) >= _CACHE_SIZE:
            self._windows.pop(next(iter(self._windows)))
        window = self._windows.setdefault(account.client_id, _Window())
        wait = wait_before_call(window.remaining, window.reset_at, time.monotonic())
        if wait > self._timeout:
            raise base.TransientError(
                f"reddit: the app's request budget is spent for {wait:.0f} s",
                code="rate_limited",
                retry_after=wait,
                sent=False,
            )
        if wait:
            await asyncio.sleep(wait)

        response, token = None, None
        for _ in range(2):
            token = await self._token(account, stale=token)
            response = await _http.send(
                self._client,
                method,
                f"{self._base_url}{path}",
                platform=self.name,
                endpoint=endpoint,
                phase_timeout=self._timeout,
                headers={
                    "Authorization": f"bearer {token}",
                    "User-Agent": account.user_agent,
                },
                params={"raw_json": "1"},
                **request,
            )
            _note_window(window, response)
            if response.status_code != 401 or not _invalid_token(response):
                break
        assert response is not None
        return response

    async def _token(
        self, account: _reddit_rules.Account, *, stale: str | None = None
    ) -> str:
        """A bearer token for the account: the cached one unless it is due or
        is `stale` (refused by the API), else a new one."""
        lock = self._token_locks.setdefault(account.key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(account.key)
            if (
                cached is not None
                and cached.value != stale
                and time.monotonic() < cached.renew_at
            ):
                return cached.value
            token = await self._fetch_token(account)
            if len(self._tokens) >= _CACHE_SIZE:
                oldest = next(iter(self._tokens))
                self._tokens.pop(oldest)
                self._token_locks.pop(oldest, None)
            self._tokens[account.key] = token
            return token.value

    async def _fetch_token(self, account: _reddit_rules.Account) -> _Token:
        asked_at = time.monotonic()
        response = await _http.send(
            self._client,
            "POST",
            self._token_url,
            platform=self.name,
            endpoint="access_token",
            phase_timeout=self._timeout,
            auth=(account.client_id, account.client_secret),
            data={
                "grant_type": "password",
                "username": account.username,
                "password": account.password,
            },
            headers={"User-Agent": account.user_agent},
        )
        if response.status_code == 401:
            raise base.CredentialsRejected(
                "reddit: the client id or secret was refused"
            )
        if response.status_code != 200:
            raise _error_of(response)

        body = _http.json_object(response)
        error = body.get("error")
        if error == "invalid_grant":
            raise base.CredentialsRejected(
                "reddit: the username or password was refused (invalid_grant); "
                "the user must be a developer of the script app"
            )
        if error is not None or not isinstance(body.get("access_token"), str):
            raise base.PermanentError(
                f"reddit: no token was granted ({error})", code="token_refused"
            )
        lifetime = _http.seconds(body.get("expires_in")) or 0.0
        return _Token(
            body["access_token"],
            asked_at + lifetime - min(TOKEN_MARGIN, lifetime / 10),
        )

    async def _upload(self, account: _reddit_rules.Account, image: base.Media) -> str:
        """Lease an upload, send the file to the leased storage; its media URL."""
        response = await self._api(
            account,
            "POST",
            "/api/media/asset.json",
            endpoint="media_asset",
            data={"filepath": image.filename, "mimetype": image.content_type},
        )
        if response.status_code != 200:
            raise _error_of(response)
        lease: Any = _http.json_object(response).get("args")
        try:
            action = str(lease["action"])
            fields = {str(item["name"]): str(item["value"]) for item in lease["fields"]}
            key = fields["key"]
        except (KeyError, TypeError) as exc:
            raise base.PermanentError(
                "reddit: the upload lease is incomplete", code="bad_answer"
            ) from exc

        upload_url = action
        if action.startswith("//"):
            upload_url = f"{urlsplit(self._base_url).scheme}:{action}"
        response = await _http.send(
            self._client,
            "POST",
            upload_url,
            platform=self.name,
            endpoint="media_upload",
            phase_timeout=self._timeout,
            data=fields,
            files={"file": (image.filename, image.data, image.content_type)},
        )
        if response.status_code not in (200, 201, 204):
            raise _upload_error(response)
        return f"{upload_url}/{key}"

    async def _image_receipt(
        self, account: _reddit_rules.Account, data: Mapping[str, Any]
    ) -> base.Receipt:
        """The image post Reddit names on its websocket once it made the post."""
        websocket_url = data.get("websocket_url")
        where = data.get("user_submitted_page") or (
            f"{PUBLIC_URL}/user/{account.username}/submitted/"
        )
        unknown = base.PermanentError(
            f"reddit: the image post was submitted but Reddit did not say where it "
            f"is; look at {where} before publishing again",
            code="unknown_outcome",
        )
        if not isinstance(websocket_url, str):
            raise unknown

        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                async with websockets.asyncio.client.connect(
                    websocket_url,
                    open_timeout=self._timeout,
                    user_agent_header=account.user_agent,
                    proxy=True if self._client.trust_env else None,
                ) as connection:
                    update = json.loads(await connection.recv())
        except (
            OSError,
            TimeoutError,
            ValueError,
            websockets.exceptions.WebSocketException,
        ) as exc:
            log.warning(
                "platform_call_failed",
                extra={
                    "platform": self.name,
                    "endpoint": "media_websocket",
                    "error": type(exc).__name__,
                    "elapsed_ms": round((time.perf_counter() - started) * 1000),
                },
            )
            raise unknown from exc
        log.info(
            "platform_call",
            extra={
                "platform": self.name,
                "endpoint": "media_websocket",
                "status": 101,
                "elapsed_ms": round((time.perf_counter() - started) * 1000),
            },
        )

        update = update if isinstance(update, dict) else {}
        payload = update.get("payload")
        payload = payload if isinstance(payload, dict) else {}
        if update.get("type") == "failed":
            raise base.PermanentError(
                f"reddit: the image was refused ({payload.get('message') or 'failed'})",
                code="reddit.media.failed",
            )
        redirect = payload.get("redirect")
        match = _POST_ID.search(redirect) if isinstance(redirect, str) else None
        if update.get("type") != "success" or match is None:
            raise unknown
        return base.Receipt(remote_id=f"t3_{match.group(1)}", url=redirect)


def _submission(draft: base.Draft, account: _reddit_rules.Account) -> _Submission:
    options = draft.options
    kind = str(_reddit_rules.kind_of(draft))
    subreddit = options.get("subreddit")
    subreddit = (
        _reddit_rules.bare_subreddit(subreddit)
        if subreddit
        else f"u_{account.username}"
    )
    form = {
        "api_type": "json",
        "sr": subreddit,
        "kind": kind,
        "title": str(options["title"]),
        "nsfw": _flag(options.get("nsfw"), False),
        "spoiler": _flag(options.get("spoiler"), False),
        "sendreplies": _flag(options.get("send_replies"), True),
        "resubmit": _flag(options.get("resubmit"), True),
    }
    if draft.text or kind == "self":
        form["text"] = draft.text
    if kind == "link":
        form["url"] = str(options["url"])
    for key in ("flair_id", "flair_text"):
        if options.get(key):
            form[key] = str(options[key])
    return _Submission(form, kind)


def _flag(value: Any, default: bool) -> str:
    return "true" if (default if value is None else value) else "false"


def _receipt(data: Mapping[str, Any]) -> base.Receipt:
    name, url = data.get("name"), data.get("url")
    if not name and data.get("id"):
        name = f"t3_{data['id']}"
    if not isinstance(name, str) or not name:
        raise base.PermanentError("reddit: the answer names no post", code="bad_answer")
    return base.Receipt(remote_id=name, url=url if isinstance(url, str) else None)


def _note_window(window: _Window, response: httpx.Response) -> None:
    """Remember the app's budget from `x-ratelimit-*` (reset: seconds left)."""
    remaining = _http.seconds(response.headers.get("x-ratelimit-remaining"))
    reset = _http.seconds(response.headers.get("x-ratelimit-reset"))
    if remaining is None or reset is None:
        return
    window.remaining = remaining
    window.reset_at = time.monotonic() + reset


def _invalid_token(response: httpx.Response) -> bool:
    challenge = response.headers.get("www-authenticate", "")
    return "invalid_token" in challenge or not challenge


def _error_of(response: httpx.Response) -> base.PlatformError:
    """Reddit's HTTP error answer (`{"message", "error"}`) as one of ours."""
    status = response.status_code
    body = _http.json_object(response)
    message = str(body.get("message") or body.get("reason") or response.reason_phrase)

    if status == 429:
        retry_after = _http.seconds(response.headers.get("retry-after"))
        if retry_after is None:
            retry_after = _http.seconds(response.headers.get("x-ratelimit-reset"))
        return base.TransientError(
            f"reddit: {message}", code="rate_limited", retry_after=retry_after
        )
    if status >= 500:
        return base.TransientError(
            f"reddit: server error {status}", code="server_error"
        )
    if status == 401 or "insufficient_scope" in response.headers.get(
        "www-authenticate", ""
    ):
        return base.CredentialsRejected(f"reddit: {message} ({status})")
    if status == 403:
        return base.PermanentError(f"reddit: {message} (403)", code="forbidden")
    return base.PermanentError(f"reddit: {message} ({status})", code="rejected")


def _upload_error(response: httpx.Response) -> base.PlatformError:
    """The storage service's XML error answer as one of ours."""
    status = response.status_code
    code = _xml_text(response.text, "Code") or str(status)
    if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        return base.TransientError(
            f"reddit: the media upload failed ({code})", code="server_error"
        )
    if code == "EntityTooLarge":
        return base.PermanentError(
            f"reddit: the image is too large (Reddit takes "
            f"{_xml_text(response.text, 'MaxSizeAllowed') or '?'} bytes)",
            code="reddit.image.too_large",
        )
    return base.PermanentError(
        f"reddit: the media upload was refused ({code})", code="rejected"
    )


def _xml_text(document: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", document)
    return match.group(1) if match else None
