"""Which bucket a request counts against, and how a refusal looks, without I/O."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.requests import HTTPConnection
from starlette.types import Message, Receive, Scope, Send
from support import server as served

from syndic.api import ratelimit
from syndic.config import Settings
from syndic.security import keys as key_format

SETTINGS = served.test_settings("sqlite:///unused.db", rate_limit_per_ip="1/minute")


def _scope(
    path: str = "/v1/ping",
    headers: dict[str, str] | None = None,
    client: str | None = "203.0.113.9",
    kind: str = "http",
    extensions: dict[str, Any] | None = None,
) -> Scope:
    return {
        "type": kind,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "scheme": "http" if kind == "http" else "ws",
        "query_string": b"",
        "headers": [
            (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
        ],
        "client": (client, 50000) if client is not None else None,
        "server": ("127.0.0.1", 8000),
        "method": "GET",
        "extensions": extensions or {},
    }


def _bucket(settings: Settings = SETTINGS, **scope: Any) -> ratelimit.Bucket | None:
    return ratelimit.Policy(settings).bucket(HTTPConnection(_scope(**scope)))


def _counted(**scope: Any) -> tuple[str, str]:
    """(kind, subject) of the bucket a request counts against."""
    bucket = _bucket(**scope)
    assert bucket is not None
    return bucket.kind, bucket.subject


def _key() -> str:
    return key_format.MARKER + secrets.token_hex(24)


@pytest.mark.parametrize(
    ("host", "subject"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::7", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("not-an-address", "not-an-address"),
        (None, "unknown"),
    ],
)
def test_client_address_groups_ipv6_by_64(host: str | None, subject: str) -> None:
    assert ratelimit.client_address(HTTPConnection(_scope(client=host))) == subject


@pytest.mark.parametrize(
    "path", ["/health", "/_emulators/discord/api", "/_sandbox/requests"]
)
def test_exempt_paths_have_no_bucket(path: str) -> None:
    assert _bucket(path=path, headers={"Authorization": f"Bearer {_key()}"}) is None


def test_well_formed_key_counts_against_the_key() -> None:
    key = _key()

    bucket = _bucket(headers={"Authorization": f"Bearer {key}"})

    assert bucket is not None
    assert bucket.kind == "key"
    assert bucket.subject.startswith(key_format.prefix_of(key) + ".")
    assert key not in bucket.subject
    assert key_format.digest(key, "x") not in bucket.subject


def test_same_key_same_bucket_made_up_key_with_its_prefix_another() -> None:
    key = _key()
    forged = key[:17] + secrets.token_hex(20)

    first = _counted(headers={"Authorization": f"Bearer {key}"})
    again = _counted(headers={"Authorization": f"bearer  {key}"})
    other = _counted(headers={"Authorization": f"Bearer {forged}"})

    assert first == again
    assert other != first


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer nonsense", f"Basic {_key()}"]
)
def test_missing_or_malformed_key_counts_against_the_address(
    authorization: str,
) -> None:
    counted = _counted(headers={"Authorization": authorization})

    assert counted == ("ip", "203.0.113.9")


def test_internal_secret_selects_the_website_bucket_only_when_right() -> None:
    secret = SETTINGS.internal_api_secret.get_secret_value()

    right = _counted(path="/internal/users", headers={"X-Internal-Secret": secret})
    wrong = _counted(path="/internal/users", headers={"X-Internal-Secret": "n" * 48})
    elsewhere = _counted(path="/ready", headers={"X-Internal-Secret": secret})

    assert right == ("internal", "website")
    assert wrong == elsewhere == ("ip", "203.0.113.9")


def test_decision_headers_follow_the_ratelimit_draft() -> None:
    decision = ratelimit.Decision(allowed=True, limit=120, remaining=37, reset=12)

    assert decision.headers() == {
        "RateLimit-Limit": "120",
        "RateLimit-Remaining": "37",
        "RateLimit-Reset": "12",
    }


@pytest.mark.parametrize("rate", ["0/minute", "often", "10/fortnight"])
def test_settings_refuse_a_rate_that_does_not_parse_or_allows_nothing(
    rate: str,
) -> None:
    with pytest.raises(ValidationError, match="rate_limit_per_key"):
        served.test_settings("sqlite:///unused.db", rate_limit_per_key=rate)


class _Recorder:
    """An inner app that accepts, and the messages sent to the client."""

    def __init__(self) -> None:
        self.calls = 0
        self.sent: list[Message] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1

    async def send(self, message: Message) -> None:
        self.sent.append(message)


async def _receive() -> Message:
    return {"type": "websocket.connect"}


async def _handshakes(extensions: dict[str, Any]) -> _Recorder:
    recorder = _Recorder()
    middleware = ratelimit.RateLimits(recorder.app, settings=SETTINGS)
    for _ in range(2):
        await middleware(
            _scope(path="/v1/ws", kind="websocket", extensions=extensions),
            _receive,
            recorder.send,
        )
    await middleware.limiter.close()
    return recorder


async def test_websocket_over_the_limit_gets_a_429_denial_response() -> None:
    recorder = await _handshakes({"websocket.http.response": {}})

    assert recorder.calls == 1
    start = recorder.sent[0]
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 429
    assert b"retry-after" in {name for name, _ in start["headers"]}


async def test_websocket_over_the_limit_is_closed_without_denial_support() -> None:
    recorder = await _handshakes({})

    assert recorder.calls == 1
    assert recorder.sent == [
        {"type": "websocket.close", "code": 1008, "reason": "rate_limited"}
    ]
