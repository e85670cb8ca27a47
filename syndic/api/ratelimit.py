"""Rate limits, applied to each request before it reaches a route.

Whom a request counts against (its bucket), decided without the database:

- A request with a well-formed API key (`Authorization: Bearer syn_live_...`)
  counts against that key (`rate_limit_per_key`). The bucket is named by the
  key's public prefix and a keyed hash of the whole token, so whoever learns
  a key's prefix cannot use up its owner's allowance with made-up keys.
  A key the server then refuses (401) counts against the client's address in
  a bucket of failed keys (`rate_limit_per_ip`), and an address whose failed
  keys are used up is refused whatever key it presents: guessing keys is
  limited per address, while clients with good keys behind that address
  keep their own allowance.
- A request to `/internal/*` with the right `X-Internal-Secret` counts against
  the product website's own bucket (`rate_limit_internal`): all its traffic
  comes from a few servers, on behalf of every user.
- Anything else (no key, a malformed one, a wrong internal secret, `/ready`,
  `/metrics`, unknown paths) counts against the client address
  (`rate_limit_per_ip`); IPv6 addresses count per /64, the block one
  subscriber usually holds. The address is the one the ASGI server reports;
  behind a reverse proxy, let uvicorn take it from `X-Forwarded-For` of
  trusted proxies (`--forwarded-allow-ips`), never from the client.

Not limited: `/health` (liveness must answer whatever happens); the Lemon
Squeezy webhook, whose sender gives up after a few retries (a refused
delivery could lose a payment; a forged one costs one HMAC); and the
sandbox's emulators and request log (`/_emulators`, `/_sandbox`), which the
server itself and local tooling call.

Windows are moving windows: no double burst at a window boundary. Every HTTP
response a limit applies to carries the fields of the IETF draft
"RateLimit header fields for HTTP" in their delta-seconds form:

    RateLimit-Limit: 120       requests allowed per window
    RateLimit-Remaining: 37    requests left in the window
    RateLimit-Reset: 12        seconds until the oldest counted request
                               leaves the window (a slot frees)

and a refused request gets 429 in the usual error shape with `Retry-After`
(seconds). A refused WebSocket handshake gets the same 429 where the server
supports denial responses, else a close with code 1008.

With `SYNDIC_REDIS_URL` the counts live in Redis and hold across every
process that shares it; without it they live in this process's memory. When
Redis does not answer, requests go through and `rate_limit_unavailable` is
logged: publishing must not stop because the limiter's store is down.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

import limits
import redis.asyncio
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndic import errors
from syndic.api import problems
from syndic.config import Settings
from syndic.security import keys as key_format

log = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/health", "/v1/webhooks/lemon"})
EXEMPT_PREFIXES = ("/_emulators/", "/_sandbox/")
REDIS_TIMEOUT = 0.5  # seconds; a slow limiter must not hold requests up
QUIET_AFTER_WARNING = 60.0  # seconds between two rate_limit_unavailable lines


@dataclass(frozen=True)
class Bucket:
    """What a request counts against: a kind ("key", "ip", ...) and a subject."""

    kind: str
    subject: str
    rule: limits.RateLimitItem


@dataclass(frozen=True)
class Decision:
    """The state of a bucket after (or without) counting one request."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class Policy:
    """Chooses the bucket of a request from the settings; pure, no I/O."""

    def __init__(self, settings: Settings) -> None:
        self._token_secret = settings.api_token_secret.get_secret_value().encode()
        self._internal_secret = settings.internal_api_secret.get_secret_value()
        self.per_key = limits.parse(settings.rate_limit_per_key)
        self.per_ip = limits.parse(settings.rate_limit_per_ip)
        self.internal = limits.parse(settings.rate_limit_internal)

    def bucket(self, request: HTTPConnection) -> Bucket | None:
        """The bucket `request` counts against, or None for an exempt path."""
        path = request.url.path
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            return None

        token = _bearer(request.headers.get("authorization", ""))
        if token is not None and key_format.is_well_formed(token):
            return Bucket("key", self._key_subject(token), self.per_key)
        if path.startswith("/internal/") and key_format.equal_secrets(
            request.headers.get("x-internal-secret", ""), self._internal_secret
        ):
            return Bucket("internal", "website", self.internal)
        return self.address(request)

    def address(self, request: HTTPConnection) -> Bucket:
        return Bucket("ip", client_address(request), self.per_ip)

    def failed_keys(self, request: HTTPConnection) -> Bucket:
        return Bucket("ip-failed-key", client_address(request), self.per_ip)

    def _key_subject(self, token: str) -> str:
        # a domain-separated HMAC, so the store never holds the key's digest
        tag = hmac.new(
            self._token_secret, b"rate-limit:" + token.encode(), hashlib.sha256
        ).hexdigest()[:16]
        return f"{key_format.prefix_of(token)}.{tag}"


def client_address(request: HTTPConnection) -> str:
    """The client's address as a bucket subject; IPv6 reduced to its /64."""
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _bearer(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class Limiter:
    """Moving-window counters in Redis or in memory."""

    def __init__(
        self, storage: Storage, pool: redis.asyncio.ConnectionPool | None = None
    ) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> Limiter:
        if settings.redis_url is None:
            return cls(MemoryStorage())
        pool = redis.asyncio.ConnectionPool.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=settings.rate_limit_redis_prefix,
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(storage, pool)

    async def hit(self, bucket: Bucket) -> Decision:
        """Count one request against `bucket` if it has room; the outcome."""
        allowed = await self._strategy.hit(bucket.rule, bucket.kind, bucket.subject)
        return await self._state(bucket, allowed=allowed)

    async def peek(self, bucket: Bucket) -> Decision:
        """Whether `bucket` has room for one more request, counting nothing."""
        allowed = await self._strategy.test(bucket.rule, bucket.kind, bucket.subject)
        return await self._state(bucket, allowed=allowed)

    async def charge(self, bucket: Bucket) -> None:
        """Count one request against `bucket`, if it has room."""
        await self._strategy.hit(bucket.rule, bucket.kind, bucket.subject)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def _state(self, bucket: Bucket, *, allowed: bool) -> Decision:
        stats = await self._strategy.get_window_stats(
            bucket.rule, bucket.kind, bucket.subject
        )
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        return Decision(allowed, bucket.rule.amount, max(0, stats.remaining), reset)


class RateLimits:
    """ASGI middleware: counts each request and refuses it with 429 when over.

    It also closes the limiter's store when the application shuts down.
    """

    def __init__(
        self, app: ASGIApp, *, settings: Settings, limiter: Limiter | None = None
    ) -> None:
        self.app = app
        self.policy = Policy(settings)
        self.limiter = limiter or Limiter.from_settings(settings)
        self._quiet_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        request = HTTPConnection(scope)
        bucket = self.policy.bucket(request)
        if bucket is None:
            await self.app(scope, receive, send)
            return

        try:
            decision = await self._decide(request, bucket)
        except StorageError as exc:
            self._unavailable(exc)
            await self.app(scope, receive, send)
            return

        if not decision.allowed:
            log.info(
                "rate_limited",
                extra={"bucket": bucket.kind, "path": request.url.path},
            )
            await _refuse(scope, receive, send, decision)
            return
        await self.app(scope, receive, self._annotated(send, request, bucket, decision))

    async def _decide(self, request: HTTPConnection, bucket: Bucket) -> Decision:
        if bucket.kind == "key":
            failures = await self.limiter.peek(self.policy.failed_keys(request))
            if not failures.allowed:
                return failures
        return await self.limiter.hit(bucket)

    def _annotated(
        self, send: Send, request: HTTPConnection, bucket: Bucket, decision: Decision
    ) -> Send:
        headers = [
            (name.lower().encode(), value.encode())
            for name, value in decision.headers().items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
                if bucket.kind == "key" and message["status"] == 401:
                    await self._count_failed_key(request)
            await send(message)

        return send_with_headers

    async def _count_failed_key(self, request: HTTPConnection) -> None:
        try:
            await self.limiter.charge(self.policy.failed_keys(request))
        except StorageError as exc:
            self._unavailable(exc)

    def _closing(self, send: Send) -> Send:
        async def send_after_close(message: Message) -> None:
            if message["type"] in (
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            ):
                await self.limiter.close()
            await send(message)

        return send_after_close

    def _unavailable(self, exc: StorageError) -> None:
        now = time.monotonic()
        if now < self._quiet_until:
            return
        self._quiet_until = now + QUIET_AFTER_WARNING
        log.warning(
            "rate_limit_unavailable",
            extra={"error": type(exc.storage_error).__name__},
        )


async def _refuse(
    scope: Scope, receive: Receive, send: Send, decision: Decision
) -> None:
    retry_after = max(1, decision.reset)
    error = errors.RateLimited(
        f"too many requests; retry in {retry_after} s", retry_after=retry_after
    )
    headers = {**decision.headers(), "Retry-After": str(error.retry_after)}
    response = JSONResponse(
        problems.body(error.code, error.message),
        problems.status_of(error),
        headers=headers,
    )
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
        "extensions", {}
    ):
        await send({"type": "websocket.close", "code": 1008, "reason": error.code})
        return
    await response(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the limits to `app` unless `rate_limit_enabled` is off."""
    if settings.rate_limit_enabled:
        app.add_middleware(RateLimits, settings=settings)
