"""X API v2, as strict as api.x.com for what syndic sends.

    GET  /2/users/me            the authenticated user
    POST /2/tweets              create a post (JSON)
    POST /2/media/upload        one-shot image upload (multipart or base64 JSON)
    POST /2/media/metadata      alt text of an uploaded image

Authentication is OAuth 1.0a user context (HMAC-SHA1 signature over the
URL, query and oauth parameters, timestamp within 5 minutes, nonces used
once) or an OAuth 2.0 user bearer token (2 h, with scopes). An app-only
bearer token answers 403 `unsupported-authentication`; anything else wrong
answers 401 `Unauthorized`, all as problem JSON.

Rates per user and endpoint (configurable; X's table): posts 100 per 15 min
(`rate_limit`), media 500 per 15 min, `users/me` 75 per 15 min, and an
optional 24-hour post cap (`daily_limit`, answered with the
`x-user-limit-24hour-*` headers). Every answer carries `x-rate-limit-limit`,
`-remaining` and `-reset` (epoch seconds); a 429 body is the problem JSON,
or the v1.1 `{"errors": [{"code": 88, ...}]}` when `rate_limit_body` is
"v1" (both are seen from X). Forced faults apply to posts and uploads.

`reply_policy` (UNVERIFIED, Feb 2026 self-serve change): "open" lets every
reply through, "summoned" refuses replies to other authors' posts, "closed"
refuses every reply, each with a 403.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from twitter_text import extract_urls_with_indices

from syndic.platforms.emulators import _base, _x_auth, _x_posts
from syndic.platforms.emulators.recorder import Recorder

NAME = "x"
TWITTER_EPOCH_MS = 1_288_834_974_657
ACCESS_TOKEN_LIFETIME = 2 * 60 * 60.0  # seconds
MEDIA_LIFETIME = 24 * 60 * 60  # seconds
NONCE_MEMORY = 10_000
OAUTH2_SCOPES = frozenset(
    {"tweet.read", "tweet.write", "users.read", "media.write", "offline.access"}
)

# Public on purpose: they open nothing but the emulator.
SANDBOX_API_KEY = "syndicSandboxApiKey000000"
SANDBOX_API_SECRET = "syndicSandboxApiSecret" + "0" * 28
SANDBOX_USER_ID = "1000000000000000001"
SANDBOX_ACCESS_TOKEN = f"{SANDBOX_USER_ID}-syndicSandboxAccessToken00000"
SANDBOX_ACCESS_SECRET = "syndicSandboxAccessSecret" + "0" * 20
SANDBOX_USERNAME = "syndic_sandbox"
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "api_key": SANDBOX_API_KEY,
    "api_secret": SANDBOX_API_SECRET,
    "access_token": SANDBOX_ACCESS_TOKEN,
    "access_token_secret": SANDBOX_ACCESS_SECRET,
}


@dataclass(frozen=True)
class User:
    id: str
    username: str
    name: str = "syndic"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "username": self.username}


@dataclass(frozen=True)
class Grant:
    """What one token lets its holder do, as whom."""

    user: User
    secret: str = ""  # OAuth 1.0a token secret
    consumer_key: str = ""
    expires_at: float | None = None  # epoch seconds, OAuth 2.0 only
    scopes: frozenset[str] | None = None  # None: OAuth 1.0a, every scope


@dataclass
class Media:
    id: str
    owner: str
    image: _x_posts.UploadedImage
    size: int
    uploaded_at: float
    alt_text: str | None = None


class XState(_base.EmulatorState):
    """Users, apps, tokens, posts and uploads, and the knobs."""

    default_rate_limit = _base.RateLimit(requests=100, per=900.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.media_rate_limit = _base.RateLimit(requests=500, per=900.0)
        self.me_rate_limit = _base.RateLimit(requests=75, per=900.0)
        self.daily_limit: _base.RateLimit | None = None
        self.rate_limit_body = "problem"
        self.reply_policy = "open"
        self.max_weighted_length = 280
        self.apps: dict[str, str] = {SANDBOX_API_KEY: SANDBOX_API_SECRET}
        self.app_only_tokens: set[str] = set()
        self.oauth1: dict[str, Grant] = {}
        self.oauth2: dict[str, Grant] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.media: dict[str, Media] = {}
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._last_id = 0
        self._id_lock = threading.Lock()
        sandbox = User(SANDBOX_USER_ID, SANDBOX_USERNAME)
        self.oauth1[SANDBOX_ACCESS_TOKEN] = Grant(
            sandbox, SANDBOX_ACCESS_SECRET, SANDBOX_API_KEY
        )

    def add_account(
        self,
        *,
        oauth2: bool = False,
        scopes: frozenset[str] = OAUTH2_SCOPES,
        expires_in: float = ACCESS_TOKEN_LIFETIME,
        username: str | None = None,
    ) -> dict[str, Any]:
        """A new user with a token; its credentials as a user stores them.

        OAuth 1.0a by default (a new app too); with `oauth2` a bearer user
        token with `scopes`, valid `expires_in` seconds.
        """
        user = User(self.new_id(), username or f"syndic_{secrets.token_hex(4)}")
        if oauth2:
            token = secrets.token_urlsafe(48)
            grant = Grant(user, expires_at=time.time() + expires_in, scopes=scopes)
            with self._lock:
                self.oauth2[token] = grant
            return {"access_token": token}

        api_key, api_secret = secrets.token_hex(12), secrets.token_urlsafe(36)
        token = f"{user.id}-{secrets.token_urlsafe(30)}"
        token_secret = secrets.token_urlsafe(33)
        with self._lock:
            self.apps[api_key] = api_secret
            self.oauth1[token] = Grant(user, token_secret, api_key)
        return {
            "api_key": api_key,
            "api_secret": api_secret,
            "access_token": token,
            "access_token_secret": token_secret,
        }

    def add_app_only_token(self) -> str:
        token = "AAAAAAAAAAAAAAAAAAAAA" + secrets.token_urlsafe(60)
        with self._lock:
            self.app_only_tokens.add(token)
        return token

    def revoke(self, token: str) -> None:
        """The user revoked the app: the token answers 401 from now on."""
        with self._lock:
            self.oauth1.pop(token, None)
            self.oauth2.pop(token, None)

    def new_id(self) -> str:
        """A new, strictly increasing snowflake id."""
        with self._id_lock:
            stamp = (int(time.time() * 1000) - TWITTER_EPOCH_MS) << 22
            self._last_id = max(stamp, self._last_id + 1)
            return str(self._last_id)

    def first_use_of(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = None
            if len(self._nonces) > NONCE_MEMORY:
                self._nonces.popitem(last=False)
            return True

    def grant(self, token: str, *, oauth2: bool) -> Grant | None:
        with self._lock:
            return (self.oauth2 if oauth2 else self.oauth1).get(token)

    def live_media(self, media_id: str, owner: str) -> Media | None:
        with self._lock:
            media = self.media.get(media_id)
        if media is None or media.owner != owner:
            return None
        if time.time() - media.uploaded_at > MEDIA_LIFETIME:
            return None
        return media

    def posts_of(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [t for t in self.tweets.values() if t["author_id"] == user_id]

    def tweet(self, tweet_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self.tweets.get(tweet_id)

    def store_tweet(self, tweet: dict[str, Any]) -> None:
        with self._lock:
            self.tweets[tweet["id"]] = tweet

    def store_media(self, media: Media) -> None:
        with self._lock:
            self.media[media.id] = media

    def describe(self, media: Media, alt_text: str) -> None:
        with self._lock:
            media.alt_text = alt_text


@dataclass
class _Call:
    request: Request
    body: _base.Body
    grant: Grant
    headers: dict[str, str] = field(default_factory=dict)


def routes(state: XState, recorder: Recorder) -> list[BaseRoute]:
    """The API v2 routes, bound to `state`, recording into `recorder`."""

    async def begin(request: Request, scopes: tuple[str, ...]) -> _Call | Response:
        body = await _base.read_body(request)
        recorder.record(
            NAME,
            request.method,
            request.url.path.removeprefix(request.scope.get("root_path", "")),
            body.recorded,
            query=dict(request.query_params),
        )
        grant = _x_auth.authenticate(state, request, body)
        if isinstance(grant, Response):
            return grant
        if grant.scopes is not None and not set(scopes) <= grant.scopes:
            return _x_posts.problem(
                403,
                "Forbidden",
                "You are not permitted to perform this action. Missing scopes: "
                + ", ".join(sorted(set(scopes) - grant.scopes)),
            )
        return _Call(request, body, grant)

    def limit(call: _Call, bucket: str, rate: _base.RateLimit) -> Response | None:
        window = state.hit(f"{bucket}:{call.grant.user.id}", limit=rate)
        call.headers.update(_rate_headers("x-rate-limit", window))
        if not window.allowed:
            return _too_many(state, call.headers)
        return None

    async def users_me(request: Request) -> Response:
        call = await begin(request, ("tweet.read", "users.read"))
        if isinstance(call, Response):
            return call
        refused = limit(call, "me", state.me_rate_limit)
        if refused is not None:
            return refused
        return JSONResponse({"data": call.grant.user.as_json()}, headers=call.headers)

    async def create_tweet(request: Request) -> Response:
        call = await begin(request, ("tweet.read", "tweet.write", "users.read"))
        if isinstance(call, Response):
            return call
        refused = limit(call, "tweets", state.rate_limit) or _daily(state, call)
        if refused is None:
            refused = await _forced(state, call.headers)
        if refused is not None:
            return refused
        try:
            tweet = _x_posts.create(
                state, call.grant.user, call.body, _x_auth.content_type(request)
            )
        except _x_posts.Refusal as refusal:
            return refusal.response
        return JSONResponse(
            {
                "data": {
                    "id": tweet["id"],
                    "text": _wrap_links(tweet["text"]),
                    "edit_history_tweet_ids": [tweet["id"]],
                }
            },
            status_code=201,
            headers=call.headers,
        )

    async def upload_media(request: Request) -> Response:
        call = await begin(request, ("media.write",))
        if isinstance(call, Response):
            return call
        refused = limit(call, "media", state.media_rate_limit)
        if refused is None:
            refused = await _forced(state, call.headers)
        if refused is not None:
            return refused
        try:
            data, _ = _x_posts.upload_request(call.body, _x_auth.content_type(request))
            image = _x_posts.image_of(data)
        except _x_posts.Refusal as refusal:
            return refusal.response

        media = Media(state.new_id(), call.grant.user.id, image, len(data), time.time())
        state.store_media(media)
        return JSONResponse(
            {
                "data": {
                    "id": media.id,
                    "media_key": f"3_{media.id}",
                    "size": media.size,
                    "expires_after_secs": MEDIA_LIFETIME,
                    "image": {
                        "image_type": image.mime_type,
                        "w": image.width,
                        "h": image.height,
                    },
                }
            },
            headers=call.headers,
        )

    async def media_metadata(request: Request) -> Response:
        call = await begin(request, ("media.write",))
        if isinstance(call, Response):
            return call
        refused = limit(call, "media", state.media_rate_limit)
        if refused is not None:
            return refused
        try:
            media_id, alt_text = _x_posts.alt_text_request(call.body)
        except _x_posts.Refusal as refusal:
            return refusal.response
        media = state.live_media(media_id, call.grant.user.id)
        if media is None:
            return _x_posts.invalid_request(
                "Your media IDs are invalid.", {"id": [media_id]}
            ).response
        state.describe(media, alt_text)
        return JSONResponse(
            {
                "data": {
                    "id": media_id,
                    "associated_metadata": {"alt_text": {"text": alt_text}},
                }
            },
            headers=call.headers,
        )

    async def not_found(request: Request) -> Response:
        recorder.record(NAME, request.method, "/" + request.path_params["path"], None)
        return JSONResponse(
            {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]},
            status_code=404,
        )

    return [
        Route("/2/users/me", users_me, methods=["GET"]),
        Route("/2/tweets", create_tweet, methods=["POST"]),
        Route("/2/media/upload", upload_media, methods=["POST"]),
        Route("/2/media/metadata", media_metadata, methods=["POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


def _daily(state: XState, call: _Call) -> Response | None:
    if state.daily_limit is None:
        return None
    window = state.hit(f"tweets-24h:{call.grant.user.id}", limit=state.daily_limit)
    call.headers.update(_rate_headers("x-user-limit-24hour", window))
    return None if window.allowed else _too_many(state, call.headers)


async def _forced(state: XState, headers: dict[str, str]) -> Response | None:
    forced = await _base.apply(state.take_fault())
    if forced is None:
        return None
    status, retry_after = forced
    if status == 429:
        reset = time.time() + (retry_after if retry_after is not None else 1.0)
        return _too_many(
            state,
            {
                **headers,
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": f"{reset:.0f}",
            },
        )
    phrase = HTTPStatus(status).phrase
    response = _x_posts.problem(status, phrase, phrase)
    response.headers.update(headers)
    return response


def _too_many(state: XState, headers: dict[str, str]) -> JSONResponse:
    if state.rate_limit_body == "v1":
        body: dict[str, Any] = {
            "errors": [{"code": 88, "message": "Rate limit exceeded"}]
        }
    else:
        body = {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
    return JSONResponse(body, status_code=429, headers=headers)


def _rate_headers(prefix: str, window: _base.Window) -> dict[str, str]:
    return {
        f"{prefix}-limit": str(window.limit),
        f"{prefix}-remaining": str(window.remaining),
        f"{prefix}-reset": str(int(window.reset_at + 0.999)),
    }


def _wrap_links(text: str) -> str:
    """The text as X answers it: every URL replaced by a 23-character t.co link."""
    for entity in sorted(
        extract_urls_with_indices(text), key=lambda e: e["indices"][0], reverse=True
    ):
        start, end = entity["indices"]
        text = f"{text[:start]}https://t.co/{secrets.token_urlsafe(8)[:10]}{text[end:]}"
    return text


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=XState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
