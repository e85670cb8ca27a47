"""X through API v2: posts, threads as reply chains, up to 4 images.

Credentials, one of:

- OAuth 1.0a user context, whose tokens never expire (preferred):
  `{"api_key", "api_secret", "access_token", "access_token_secret"}`
  (`consumer_key` / `consumer_secret` are accepted for the first two);
- an OAuth 2.0 user access token: `{"access_token"}` alone. It lasts two
  hours and syndic does not refresh it; once expired it is refused as
  `CredentialsRejected`.

Publishing reads the account's username once per token (`GET
/2/users/me`) for the post URL, uploads each image (`POST /2/media/upload`,
category `tweet_image`, then its alt text through `POST
/2/media/metadata`), then creates the post (`POST /2/tweets`). Text is
counted as X counts it (`emulators.x_text`: NFC, URLs 23, CJK and emoji
2). Over 280 it is refused by `validate`, or with the `split` option cut
into a thread: cuts fall on a line break or a space (a hard cut between
grapheme clusters otherwise, never inside a URL), the images go with the
first post and each later post replies to the one before.

Options: `split` (default false), `reply_settings` ("following",
"mentionedUsers", "subscribers" or "verified").

X takes no idempotency key: a retry after a post went out but its answer
was lost can publish it again; X refuses an identical text with a 403,
mapped to a `PermanentError` with code `duplicate`. Once the first post of
a thread is out, a later failure is a `PermanentError` with code
`partially_published` (a 429 is waited out once, up to the timeout).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import _http, base
from syndic.platforms.emulators import x_oauth, x_text

DEFAULT_TIMEOUT = 15.0  # seconds
MAX_WEIGHTED_LENGTH = x_text.MAX_WEIGHTED_LENGTH
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
MAX_CASHTAGS = x_text.MAX_CASHTAGS
IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"}
)
REPLY_SETTINGS = frozenset({"following", "mentionedUsers", "subscribers", "verified"})
PUBLIC_URL = "https://x.com"

_KEY = re.compile(r"[A-Za-z0-9_-]{10,100}")
_OAUTH1_TOKEN = re.compile(r"[0-9]{1,20}-[A-Za-z0-9_-]{10,100}")
_BEARER = re.compile(r"[A-Za-z0-9._~+/=-]{20,500}")
_USERNAME_CACHE_SIZE = 1024


class _Refused(Exception):
    def __init__(self, problem: base.Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def split_text(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> list[str]:
    """`text` as posts of at most `limit` weighted characters each.

    A cut falls on the last line break in the second half of the room,
    else the last space, else the last line break, else between the last
    two tokens that fit; the break or space cut at is dropped and each
    post is stripped. Raises ValueError when one token alone weighs more
    than `limit` (a grapheme cluster with hundreds of marks).
    """
    tokens = x_text.tokens(text)
    posts: list[str] = []
    first = 0
    while first < len(tokens):
        total, last = 0, first
        while last < len(tokens) and total + tokens[last].weight <= limit:
            total += tokens[last].weight
            last += 1
        if last == first:
            raise ValueError(f"the text at {tokens[first].start} weighs over {limit}")
        if last == len(tokens):
            posts.append(text[tokens[first].start :])
            break
        cut, dropped = _cut(text, tokens, first, last, limit)
        posts.append(text[tokens[first].start : tokens[cut].start])
        first = cut + 1 if dropped else cut
    return [post.strip() for post in posts if post.strip()]


def _cut(
    text: str, tokens: list[x_text.Token], first: int, last: int, limit: int
) -> tuple[int, bool]:
    """The token to cut before, and whether that token is dropped."""
    newline = space = None
    weight = 0
    for index in range(first, last):
        token = tokens[index]
        piece = text[token.start : token.end]
        if index > first and piece in ("\n", "\r\n", "\r"):
            newline = (index, weight)
        elif index > first and piece.isspace():
            space = index
        weight += token.weight
    if newline is not None and newline[1] * 2 >= limit:
        return newline[0], True
    if space is not None:
        return space, True
    if newline is not None:
        return newline[0], True
    return last, False


@dataclass(frozen=True)
class _Credentials:
    access_token: str
    api_key: str | None = None
    api_secret: str | None = None
    access_token_secret: str | None = None

    def __repr__(self) -> str:
        return f"_Credentials(oauth{'1' if self.api_key else '2'})"

    @property
    def cache_key(self) -> str:
        return hashlib.sha256(self.access_token.encode()).hexdigest()

    def authorization(self, method: str, url: str) -> str:
        if self.api_key is None:
            return f"Bearer {self.access_token}"
        return x_oauth.authorization_header(
            method,
            url,
            consumer_key=self.api_key,
            consumer_secret=self.api_secret or "",
            token=self.access_token,
            token_secret=self.access_token_secret or "",
        )


def _credentials(credentials: Mapping[str, Any]) -> _Credentials:
    token = _text(credentials.get("access_token"))
    key = _text(credentials.get("api_key") or credentials.get("consumer_key"))
    secret = _text(credentials.get("api_secret") or credentials.get("consumer_secret"))
    token_secret = _text(credentials.get("access_token_secret"))
    if key is None and secret is None and token_secret is None:
        if token is None or _BEARER.fullmatch(token) is None:
            raise ValueError(
                "X needs api_key, api_secret, access_token and access_token_secret "
                "(OAuth 1.0a), or an OAuth 2.0 user access_token"
            )
        return _Credentials(token)
    for name, value, pattern in (
        ("api_key", key, _KEY),
        ("api_secret", secret, _KEY),
        ("access_token", token, _OAUTH1_TOKEN),
        ("access_token_secret", token_secret, _KEY),
    ):
        if value is None or pattern.fullmatch(value) is None:
            raise ValueError(
                f"{name} is missing or malformed; copy it from the app's "
                "Keys and tokens page (OAuth 1.0a)"
            )
    return _Credentials(token or "", key, secret, token_secret)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class XAdapter:
    """Publishes through API v2; see the module docstring."""

    name: ClassVar[str] = "x"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it when `settings` is given."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        self._usernames: dict[str, str] = {}

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """OAuth 1.0a keys and tokens, or an OAuth 2.0 access token; else ValueError."""
        checked = _credentials(credentials)
        if checked.api_key is None:
            return {"access_token": checked.access_token}
        return {
            "api_key": checked.api_key,
            "api_secret": checked.api_secret,
            "access_token": checked.access_token,
            "access_token_secret": checked.access_token_secret,
        }

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        problems = _option_problems(draft.options)
        problems.extend(_media_problems(draft.media))
        try:
            _posts(draft)
        except _Refused as refused:
            problems.append(refused.problem)
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Upload the images, then post once per part; the Receipt names each post."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            checked = _credentials(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"x: {exc}") from exc

        username = await self._username(checked)
        media_ids = [await self._upload(checked, item) for item in draft.media]
        posted: list[str] = []
        for number, text in enumerate(_posts(draft)):
            body: dict[str, Any] = {"text": text} if text else {}
            if number == 0 and media_ids:
                body["media"] = {"media_ids": media_ids}
            if posted:
                body["reply"] = {"in_reply_to_tweet_id": posted[-1]}
            if draft.options.get("reply_settings"):
                body["reply_settings"] = draft.options["reply_settings"]
            attempt = functools.partial(self._create, checked, body)
            if posted:
                posted.append(
                    await _http.follow_up(
                        attempt,
                        platform=self.name,
                        published=posted,
                        max_wait=self._timeout,
                    )
                )
            else:
                posted.append(await attempt())

        return base.Receipt(
            remote_id=posted[0],
            url=f"{PUBLIC_URL}/{username}/status/{posted[0]}",
            extra_ids=tuple(posted[1:]),
        )

    async def _call(
        self,
        credentials: _Credentials,
        method: str,
        path: str,
        endpoint: str,
        **request: Any,
    ) -> dict[str, Any]:
        """One API call; the JSON answer of a 2xx, else our error for X's."""
        url = f"{self._base_url}{path}"
        headers = {"Authorization": credentials.authorization(method, url)}
        response = await _http.send(
            self._client,
            method,
            url,
            platform=self.name,
            endpoint=endpoint,
            phase_timeout=self._timeout,
            headers=headers,
            **request,
        )
        if not 200 <= response.status_code < 300:
            raise _error_of(response)
        return _http.json_object(response)

    async def _username(self, credentials: _Credentials) -> str:
        """The account's username, read once per token; also checks the token."""
        key = credentials.cache_key
        if key in self._usernames:
            return self._usernames[key]
        answer = await self._call(credentials, "GET", "/2/users/me", "users_me")
        data = answer.get("data")
        username = data.get("username") if isinstance(data, dict) else None
        if not isinstance(username, str) or not username:
            raise base.PermanentError("x: users/me named no user", code="bad_answer")
        if len(self._usernames) >= _USERNAME_CACHE_SIZE:
            self._usernames.pop(next(iter(self._usernames)))
        self._usernames[key] = username
        return username

    async def _upload(self, credentials: _Credentials, item: base.Media) -> str:
        answer = await self._call(
            credentials,
            "POST",
            "/2/media/upload",
            "media_upload",
            data={"media_category": "tweet_image"},
            files={"media": (item.filename, item.data, item.content_type)},
        )
        media_id = _data_id(answer)
        if item.alt:
            await self._call(
                credentials,
                "POST",
                "/2/media/metadata",
                "media_metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": item.alt}}},
            )
        return media_id

    async def _create(self, credentials: _Credentials, body: dict[str, Any]) -> str:
        answer = await self._call(
            credentials, "POST", "/2/tweets", "create_post", json=body
        )
        return _data_id(answer)


def _data_id(answer: Mapping[str, Any]) -> str:
    data = answer.get("data")
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str | int) or not str(value).isdigit():
        raise base.PermanentError("x: the answer holds no id", code="bad_answer")
    return str(value)


def _posts(draft: base.Draft) -> list[str]:
    """The texts to post in order ("" for images alone); raises `_Refused`."""
    text = draft.text
    if not text.strip():
        if draft.media:
            return [""]
        raise _Refused(base.Problem("x.text.empty", "X refuses an empty post"))
    invalid = x_text.invalid_characters(text)
    if invalid:
        raise _Refused(
            base.Problem(
                "x.text.invalid_characters",
                "X refuses U+FFFE, U+FEFF and U+FFFF in a post",
                start=invalid[0],
                end=invalid[0] + 1,
            )
        )

    weight = x_text.weighted_length(text)
    if weight <= MAX_WEIGHTED_LENGTH:
        posts = [text]
    elif not draft.options.get("split", False):
        raise _Refused(
            base.Problem(
                "x.text.too_long",
                f"{weight} weighted characters; X takes {MAX_WEIGHTED_LENGTH} "
                "(set the split option to post a thread)",
                start=x_text.index_past(text),
                end=len(text),
            )
        )
    else:
        try:
            posts = split_text(text)
        except ValueError as exc:
            raise _Refused(
                base.Problem("x.text.unsplittable", f"X cannot take this text: {exc}")
            ) from exc
    for post in posts:
        if len(x_text.cashtags(post)) > MAX_CASHTAGS:
            raise _Refused(
                base.Problem(
                    "x.text.too_many_cashtags",
                    f"X takes {MAX_CASHTAGS} cashtag a post",
                )
            )
    return posts


def _option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    problems = []
    if not isinstance(options.get("split", False), bool):
        problems.append(base.Problem("x.options.split", "split must be true or false"))
    settings = options.get("reply_settings")
    if settings is not None and settings not in REPLY_SETTINGS:
        problems.append(
            base.Problem(
                "x.options.reply_settings",
                "reply_settings must be one of " + ", ".join(sorted(REPLY_SETTINGS)),
            )
        )
    return problems


def _media_problems(media: tuple[base.Media, ...]) -> list[base.Problem]:
    problems = []
    if len(media) > MAX_IMAGES:
        problems.append(
            base.Problem(
                "x.media.too_many", f"{len(media)} images; X takes {MAX_IMAGES} a post"
            )
        )
    for item in media:
        problem = _image_problem(item)
        if problem is not None:
            problems.append(problem)
    return problems


def _image_problem(item: base.Media) -> base.Problem | None:
    if item.content_type not in IMAGE_TYPES:
        return base.Problem(
            "x.media.unsupported",
            f"{item.filename}: syndic sends JPEG, PNG, GIF, WEBP, BMP or TIFF "
            f"images to X, not {item.content_type}",
        )
    if len(item.data) > MAX_IMAGE_BYTES:
        return base.Problem("x.media.too_large", f"{item.filename}: over 5 MiB")
    if len(item.alt) > MAX_ALT_TEXT:
        return base.Problem(
            "x.media.alt_too_long",
            f"{item.filename}: alt text over {MAX_ALT_TEXT} characters",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as image:
                animated = bool(getattr(image, "is_animated", False))
    except (OSError, ValueError, Image.DecompressionBombError):
        return base.Problem(
            "x.media.unreadable", f"{item.filename} is not a readable image"
        )
    if animated:
        return base.Problem(
            "x.media.animated",
            f"{item.filename}: syndic sends still images to X; an animated GIF "
            "needs the chunked upload",
        )
    return None


def _error_of(response: httpx.Response) -> base.PlatformError:
    """X's error answer (problem JSON or the v1.1 shape) as one of ours."""
    status = response.status_code
    body = _http.json_object(response)
    message = _message(body) or response.reason_phrase or str(status)
    kind = str(body.get("type") or "")

    if status == 429:
        return base.TransientError(
            f"x: rate limited ({message})",
            code="rate_limited",
            retry_after=_retry_after(response.headers),
        )
    if status >= 500:
        return base.TransientError(f"x: server error {status}", code="server_error")
    if status == 401 or kind.endswith("/unsupported-authentication"):
        return base.CredentialsRejected(f"x: the token was refused ({message})")
    if status == 403 and "duplicate content" in message:
        return base.PermanentError(f"x: {message}", code="duplicate")
    if status == 403:
        return base.PermanentError(f"x: {message}", code="forbidden")
    return base.PermanentError(f"x: {message}", code="rejected")


def _message(body: Mapping[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list):
        messages = [
            str(error["message"])
            for error in errors
            if isinstance(error, dict) and error.get("message")
        ]
        if messages:
            return "; ".join(messages)
    return str(body.get("detail") or body.get("title") or "")


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds until the exhausted window resets: the daily one if that is out."""
    for prefix in ("x-user-limit-24hour", "x-app-limit-24hour", "x-rate-limit"):
        if headers.get(f"{prefix}-remaining") == "0":
            reset = _http.seconds(headers.get(f"{prefix}-reset"))
            if reset is not None:
                return max(reset - time.time(), 0.0)
    reset = _http.seconds(headers.get("x-rate-limit-reset"))
    if reset is not None:
        return max(reset - time.time(), 0.0)
    return _http.seconds(headers.get("Retry-After"))
