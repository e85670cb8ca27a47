"""Dev.to's Forem API v1 for articles, as strict as dev.to for what syndic sends.

    POST /api/articles                         an article (`{"article": {...}}`)
    PUT  /api/articles/{id}                    change, publish or unpublish one
    GET  /api/articles/me[/all|/published|/unpublished]   your articles
    GET  /api/articles/{id}                    a published article

The key is the `api-key` header; without a known one the answer is 401
`{"error": "unauthorized", "status": 401}`. A refused article is 422
`{"error": "<Dev.to's sentence>", "status": 422}`, also when `article` is
not an object; someone else's or an unknown article is 404 `{"error": "not
found", "status": 404}`. Tags are taken only as an array (see
`_devto_articles`), and the front matter of `body_markdown` wins over the
fields. `PUT` without `tags` keeps the article's tags.

Rates, as Dev.to's rack-attack rules set them: writes (POST, PUT) 1 a
second per key (`rate_limit`), answered 429 `text/plain` "Retry later" with
`Retry-After`; reads 3 a second per client address. Dev.to also limits
article creation per user; its numbers are UNVERIFIED, here 9 per 30 s
(`article_limit`), answered 429 `{"error": "Rate limit reached, try again
in N seconds", "status": 429}` with `Retry-After`.

A request without `Accept: application/vnd.forem.api-v1+json` is the legacy
v0 API. Whether dev.to still serves v0 is UNVERIFIED: the emulator serves it
the same way and stores `api_version` 0 on what it creates (1 otherwise).
The answer to a body that is not JSON is UNVERIFIED (here 400 with the
usual error shape).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _devto_articles
from syndic.platforms.emulators.recorder import Recorder

NAME = "devto"
V1_MEDIA_TYPE = "application/vnd.forem.api-v1+json"
FIRST_ARTICLE_ID = 1_500_000
MAX_ARTICLES = 10_000  # kept; the oldest go first

# Public on purpose: it opens nothing but the emulator.
SANDBOX_API_KEY = "syndicSandboxDevtoKey001"
SANDBOX_USERNAME = "syndic_sandbox"
SANDBOX_CREDENTIALS: dict[str, Any] = {"api_key": SANDBOX_API_KEY}

_RUBY_TYPES = {
    str: "String",
    int: "Integer",
    float: "Float",
    list: "Array",
    bool: "TrueClass",
    type(None): "NilClass",
}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    api_key: str

    def as_json(self) -> dict[str, Any]:
        avatar = f"https://media2.dev.to/profile_images/{self.id}.png"
        return {
            "name": self.username,
            "username": self.username,
            "twitter_username": None,
            "github_username": None,
            "user_id": self.id,
            "website_url": None,
            "profile_image": avatar,
            "profile_image_90": avatar,
        }


class DevtoState(_base.EmulatorState):
    """Users and their keys, articles, and the knobs.

    `rate_limit` is the write rate per key; `article_limit` and
    `read_limit` are the other two (see the module docstring).
    """

    default_rate_limit = _base.RateLimit(requests=1, per=1.0)
    default_article_limit = _base.RateLimit(requests=9, per=30.0)
    default_read_limit = _base.RateLimit(requests=3, per=1.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.article_limit = self.default_article_limit
        self.read_limit = self.default_read_limit
        self.users: dict[str, User] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self._throttle = _devto_articles.Throttle()
        self._next_id = FIRST_ARTICLE_ID
        self.write_lock = threading.Lock()  # one write checks and stores at a time
        self.add_account(api_key=SANDBOX_API_KEY, username=SANDBOX_USERNAME)

    def add_account(
        self, *, api_key: str | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """A new user with an API key; credentials as a user stores them."""
        api_key = api_key or secrets.token_urlsafe(18).replace("-", "a").replace(
            "_", "b"
        )
        with self._lock:
            self._next_id += 1
            user_id = self._next_id
            user = User(user_id, username or f"syndic{user_id}", api_key)
            self.users[api_key] = user
        return {"api_key": api_key}

    def revoke(self, api_key: str) -> None:
        """Revoke a key, as Settings → Extensions does: 401 from now on."""
        with self._lock:
            self.users.pop(api_key, None)

    def user(self, api_key: str) -> User | None:
        with self._lock:
            return self.users.get(api_key)

    def wait(self, kind: str, key: str) -> float:
        """Seconds until a `kind` ("article" or "read") event of `key` may happen."""
        if not self.strict_rate_limits:
            return 0.0
        limit = self.article_limit if kind == "article" else self.read_limit
        with self._lock:
            return self._throttle.wait(f"{kind}-{key}", limit.requests, limit.per)

    def articles_of(self, user: User) -> list[dict[str, Any]]:
        with self._lock:
            return [a for a in self.articles.values() if a["user_id"] == user.id]

    def others(self, article_id: int | None) -> list[dict[str, Any]]:
        with self._lock:
            return [a for a in self.articles.values() if a["id"] != article_id]

    def published(self, article_id: int) -> tuple[dict[str, Any], User] | None:
        """A published article and its author."""
        with self._lock:
            article = self.articles.get(article_id)
            if article is None or not article["published"]:
                return None
            owner = next(u for u in self.users.values() if u.id == article["user_id"])
            return article, owner

    def save(self, article: dict[str, Any]) -> None:
        """Store `article`, giving it an id if it is new."""
        with self._lock:
            if article.get("id") is None:
                self._next_id += 1
                article["id"] = self._next_id
            self.articles[article["id"]] = article
            while len(self.articles) > MAX_ARTICLES:
                self.articles.pop(next(iter(self.articles)))


def _error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"error": message, "status": status}, status_code=status, headers=headers
    )


def _limited(wait: float) -> Response:
    seconds = _devto_articles.retry_seconds(wait)
    return _error(
        429,
        f"Rate limit reached, try again in {seconds} seconds",
        {"Retry-After": str(seconds)},
    )


def _forced(status: int, retry_after: float | None) -> Response:
    if status == 429:
        return _limited(retry_after or 1.0)
    return _error(status, HTTPStatus(status).phrase)


def routes(state: DevtoState, recorder: Recorder) -> list[BaseRoute]:
    """The article routes, bound to `state`, recording into `recorder`."""

    def record(request: Request, body: _base.Body) -> None:
        root = str(request.scope.get("root_path", ""))
        recorder.record(
            NAME,
            request.method,
            str(request.scope["path"]).removeprefix(root),
            body.recorded,
            query=dict(request.query_params),
        )

    def client_host(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def client_key(request: Request) -> str:
        key = request.headers.get("api-key", "")
        return f"{client_host(request)}-{key}" if key else client_host(request)

    def authenticate(request: Request) -> User | Response:
        user = state.user(request.headers.get("api-key", ""))
        return user if user is not None else _error(401, "unauthorized")

    async def write_gate(request: Request, body: _base.Body) -> User | Response:
        """Rack-attack, the key, forced faults, then the `article` object."""
        record(request, body)
        window = state.hit(f"write-{client_key(request)}")
        if not window.allowed:
            seconds = _devto_articles.retry_seconds(window.reset_after)
            return PlainTextResponse(
                "Retry later\n", status_code=429, headers={"Retry-After": str(seconds)}
            )
        user = authenticate(request)
        if isinstance(user, Response):
            return user
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)
        if body.error == "invalid_json":
            return _error(400, "Error occurred while parsing request parameters")
        article = body.fields.get("article")
        if not isinstance(article, dict):
            kind = _RUBY_TYPES.get(type(article), "String")
            if article is False:
                kind = "FalseClass"
            return _error(
                422,
                "article param must be a JSON object. "
                f"You provided article as a {kind}",
            )
        return user

    async def create(request: Request) -> Response:
        body = await _base.read_body(request)
        user = await write_gate(request, body)
        if isinstance(user, Response):
            return user
        wait = state.wait("article", str(user.id))
        if wait:
            return _limited(wait)

        version = 1 if V1_MEDIA_TYPE in request.headers.get("accept", "") else 0
        article: dict[str, Any] = {
            "id": None,
            "user_id": user.id,
            "published": False,
            "tag_list": [],
            "created_at": _now(),
            "edited_at": None,
            "api_version": version,
        }
        fields = _devto_articles.permitted(body.fields["article"])
        refused = save(article, fields, user)
        if refused is not None:
            return refused
        answer = _devto_articles.as_json(article, user.as_json())
        return JSONResponse(
            answer, status_code=201, headers={"Location": answer["url"]}
        )

    async def update(request: Request) -> Response:
        body = await _base.read_body(request)
        user = await write_gate(request, body)
        if isinstance(user, Response):
            return user
        stored = next(
            (
                a
                for a in state.articles_of(user)
                if str(a["id"]) == request.path_params["id"]
            ),
            None,
        )
        if stored is None:
            return _error(404, "not found")

        article = dict(stored)
        if stored["published"]:
            article["edited_at"] = _now()
        refused = save(article, _devto_articles.permitted(body.fields["article"]), user)
        if refused is not None:
            return refused
        return JSONResponse(_devto_articles.as_json(article, user.as_json()))

    def save(
        article: dict[str, Any], fields: dict[str, Any], user: User
    ) -> Response | None:
        """Apply, check and store under one lock, so two writes cannot both pass."""
        with state.write_lock:
            problem = _devto_articles.apply(article, fields)
            messages = (
                [problem]
                if problem is not None
                else _devto_articles.check(article, state.others(article["id"]))
            )
            if messages:
                return _error(422, _devto_articles.sentence(messages))
            _devto_articles.settle(article, user.username)
            state.save(article)
        return None

    async def mine(request: Request) -> Response:
        record(request, _base.Body())
        user = authenticate(request)
        if isinstance(user, Response):
            return user
        wait = state.wait("read", client_host(request))
        if wait:
            return PlainTextResponse(
                "Retry later\n",
                status_code=429,
                headers={"Retry-After": str(_devto_articles.retry_seconds(wait))},
            )
        which = request.path_params.get("which", "published")
        if which not in ("all", "published", "unpublished"):
            return _error(404, "not found")
        articles = [
            a
            for a in state.articles_of(user)
            if which == "all" or a["published"] == (which == "published")
        ]
        # newest first; drafts (no published_at) first, as PostgreSQL sorts NULLs
        articles.sort(
            key=lambda a: (a.get("published_at") or "9999", a["created_at"]),
            reverse=True,
        )
        per_page = min(_int(request.query_params.get("per_page"), 30), 1000)
        page = max(_int(request.query_params.get("page"), 1), 1)
        chosen = articles[(page - 1) * per_page : page * per_page]
        return JSONResponse(
            [_devto_articles.as_mine(a, user.as_json()) for a in chosen]
        )

    async def show(request: Request) -> Response:
        record(request, _base.Body())
        found = state.published(_int(request.path_params["id"], 0))
        if found is None:
            return _error(404, "not found")
        article, owner = found
        return JSONResponse(_devto_articles.as_json(article, owner.as_json()))

    async def not_found(request: Request) -> Response:
        record(request, _base.Body())
        return _error(404, "not found")

    return [
        Route("/api/articles", create, methods=["POST"]),
        Route("/api/articles/me", mine, methods=["GET"]),
        Route("/api/articles/me/{which}", mine, methods=["GET"]),
        Route("/api/articles/{id}", update, methods=["PUT"]),
        Route("/api/articles/{id}", show, methods=["GET"]),
        Route(
            "/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        ),
    ]


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=DevtoState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
