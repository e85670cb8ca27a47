"""Outbound HTTP for adapters: one call, timed, logged, transport errors ours.

`send` performs one request and returns the response whatever its status;
adapters read the platform's answer themselves. Transport failures become
`TransientError` (with `sent=False` when the request certainly never left:
no connection, or no pooled connection in time) and a base URL httpx cannot
use becomes `PermanentError`. Each call logs one `platform_call` line with
`platform`, `endpoint` (a label, never the URL: URLs may carry tokens),
`status` and `elapsed_ms`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx

from syndic.platforms import base

log = logging.getLogger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
T = TypeVar("T")


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    platform: str,
    endpoint: str,
    phase_timeout: float,
    **request: Any,
) -> httpx.Response:
    """One request, `phase_timeout` seconds per phase; `request` goes to httpx."""
    started = time.perf_counter()
    try:
        response = await client.request(method, url, timeout=phase_timeout, **request)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        _failed(platform, endpoint, started, exc)
        raise base.PermanentError(
            f"{platform}: the configured base URL cannot be used",
            code="bad_base_url",
        ) from exc
    except _NOT_SENT as exc:
        _failed(platform, endpoint, started, exc)
        raise base.TransientError(
            f"{platform}: could not connect ({type(exc).__name__})",
            code="unreachable",
            sent=False,
        ) from exc
    except httpx.TimeoutException as exc:
        _failed(platform, endpoint, started, exc)
        raise base.TransientError(
            f"{platform}: no answer within {phase_timeout:g} s", code="timeout"
        ) from exc
    except httpx.TransportError as exc:
        _failed(platform, endpoint, started, exc)
        raise base.TransientError(
            f"{platform}: connection failed ({type(exc).__name__})",
            code="connection_failed",
        ) from exc

    log.info(
        "platform_call",
        extra={
            "platform": platform,
            "endpoint": endpoint,
            "status": response.status_code,
            "elapsed_ms": _elapsed_ms(started),
        },
    )
    return response


async def follow_up(
    attempt: Callable[[], Awaitable[T]],
    *,
    platform: str,
    published: Sequence[str],
    max_wait: float,
) -> T:
    """A later call of a post whose first messages (`published` ids) are out.

    Run once more if the platform cannot have acted on the first try: a 429
    (after its `retry_after`, if at most `max_wait` seconds) or a request
    that never left. A failure is then a `PermanentError` with code
    `partially_published`: retrying the post would repeat what is out.
    """
    try:
        try:
            return await attempt()
        except base.TransientError as exc:
            wait = exc.retry_after if exc.retry_after is not None else 0.0
            if (exc.sent and exc.code != "rate_limited") or wait > max_wait:
                raise
            log.warning(
                "platform_call_retried",
                extra={"platform": platform, "code": exc.code, "wait_s": wait},
            )
            await asyncio.sleep(wait)
        return await attempt()
    except base.PlatformError as exc:
        raise base.PermanentError(
            f"{platform}: published {len(published)} message(s), first "
            f"{published[0]}, then failed: {exc.message}",
            code="partially_published",
        ) from exc


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body if it is a JSON object, else an empty dict."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def seconds(value: Any) -> float | None:
    """A non-negative finite number of seconds from a body field or header."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failed(platform: str, endpoint: str, started: float, exc: Exception) -> None:
    log.warning(
        "platform_call_failed",
        extra={
            "platform": platform,
            "endpoint": endpoint,
            "error": type(exc).__name__,
            "elapsed_ms": _elapsed_ms(started),
        },
    )
