"""Rate limits on a real socket: per key, per address, per website; shared
through Redis by two server processes.

Redis is expected at 127.0.0.1:6379 (`SYNDIC_TEST_REDIS` overrides). Without
it, the tests that need it are skipped with the reason, except under
`CI=true`, where they fail. Each test gets its own key prefix, removed at its
end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio
from support.databases import IN_CI
from support.processes import Process, clean_env, free_port
from support.server import Server, serve

from syndic.db.engine import Database

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
REDIS_URL = os.environ.get("SYNDIC_TEST_REDIS", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class SharedRedis:
    url: str
    prefix: str


@pytest.fixture
async def shared_redis() -> AsyncIterator[SharedRedis]:
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        message = f"Redis at {REDIS_URL} is unreachable ({type(exc).__name__}: {exc})"
        if IN_CI:
            pytest.fail(message + "; CI=true requires it", pytrace=False)
        pytest.skip(message)

    prefix = f"syndic-test-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        yield SharedRedis(REDIS_URL, prefix)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()


def _made_up_key(prefix: str = "syn_live_") -> str:
    """A well-formed key nobody was given, starting with `prefix`."""
    key = "syn_live_" + secrets.token_hex(24)
    return prefix + key[len(prefix) :]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _statuses(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], count: int
) -> list[int]:
    return [(await client.get(path, headers=headers)).status_code for _ in range(count)]


async def test_key_over_its_limit_gets_429_with_headers(db: Database) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_key="3/minute"
    ) as server:
        _, key = await server.user_with_key()

        answers = [await server.client.get("/v1/ping", headers=key) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["RateLimit-Limit"] for a in answers} == {"3"}
    assert all(0 <= int(a.headers["RateLimit-Reset"]) <= 60 for a in answers)
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "X-Request-ID" in refused.headers


async def test_each_key_has_its_own_allowance(db: Database) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_key="2/minute"
    ) as server:
        user_id, first = await server.user_with_key()
        second = _bearer(await server.key(user_id))

        used_up = await _statuses(server.client, "/v1/ping", first, 3)
        other = await _statuses(server.client, "/v1/ping", second, 2)

    assert used_up == [200, 200, 429]
    assert other == [200, 200]


async def test_made_up_keys_with_a_real_prefix_leave_its_allowance_alone(
    db: Database,
) -> None:
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        rate_limit_per_key="3/minute",
        rate_limit_per_ip="100/minute",
    ) as server:
        _, victim = await server.user_with_key()
        prefix = victim["Authorization"].removeprefix("Bearer ")[:17]
        forged = [_bearer(_made_up_key(prefix)) for _ in range(5)]

        attempts = [
            (await server.client.get("/v1/ping", headers=h)).status_code for h in forged
        ]
        own = await _statuses(server.client, "/v1/ping", victim, 3)

    assert attempts == [401] * 5
    assert own == [200, 200, 200]


async def test_refused_keys_count_against_the_client_address(db: Database) -> None:
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        rate_limit_per_key="100/minute",
        rate_limit_per_ip="3/minute",
    ) as server:
        _, good = await server.user_with_key()

        guesses = [
            (
                await server.client.get("/v1/ping", headers=_bearer(_made_up_key()))
            ).status_code
            for _ in range(4)
        ]
        after = await server.client.get("/v1/ping", headers=good)
        anonymous = await server.client.get("/ready")

    assert guesses == [401, 401, 401, 429]
    # the address used up its failed keys: any key from it waits
    assert after.status_code == 429
    assert after.headers["RateLimit-Limit"] == "3"
    # requests without a key have their own allowance
    assert anonymous.status_code == 200


async def test_malformed_tokens_count_against_the_client_address(
    db: Database,
) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_ip="2/minute"
    ) as server:
        statuses = await _statuses(
            server.client, "/v1/ping", {"Authorization": "Bearer nonsense"}, 3
        )

    assert statuses == [401, 401, 429]


async def test_unauthenticated_routes_count_per_address_and_health_is_exempt(
    db: Database,
) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_ip="2/minute"
    ) as server:
        ready = [await server.client.get("/ready") for _ in range(3)]
        health = [await server.client.get("/health") for _ in range(5)]

    assert [a.status_code for a in ready] == [200, 200, 429]
    assert all(name in ready[0].headers for name in HEADERS)
    assert ready[-1].json()["error"]["code"] == "rate_limited"
    assert [a.status_code for a in health] == [200] * 5
    assert not any(name in health[0].headers for name in HEADERS)


async def test_lemon_squeezy_deliveries_are_never_refused_for_rate(
    db: Database,
) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_ip="2/minute"
    ) as server:
        answers = [
            await server.client.post("/v1/webhooks/lemon", content=b"{}")
            for _ in range(5)
        ]

    # unsigned, so refused, but for the signature: never for the rate
    assert [a.status_code for a in answers] == [401] * 5


async def test_website_has_its_own_allowance_and_wrong_secrets_count_per_address(
    db: Database,
) -> None:
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        rate_limit_per_ip="2/minute",
        rate_limit_internal="5/minute",
    ) as server:
        user_id = await server.user()
        path = f"/internal/keys/{user_id}"
        secret = server.rt.settings.internal_api_secret.get_secret_value()

        website = await _statuses(server.client, path, {"X-Internal-Secret": secret}, 6)
        guesses = await _statuses(
            server.client, path, {"X-Internal-Secret": "z" * 48}, 3
        )

    assert website == [200] * 5 + [429]
    assert guesses == [401, 401, 429]


async def test_limits_switched_off_add_no_headers(db: Database) -> None:
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        rate_limit_enabled=False,
        rate_limit_per_ip="1/minute",
    ) as server:
        answers = [await server.client.get("/ready") for _ in range(3)]

    assert [a.status_code for a in answers] == [200] * 3
    assert "RateLimit-Limit" not in answers[0].headers


async def test_requests_go_through_when_redis_does_not_answer(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    nothing_there = f"redis://127.0.0.1:{free_port()}/0"
    caplog.set_level(logging.WARNING, logger="syndic.api.ratelimit")
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        redis_url=nothing_there,
        rate_limit_per_key="1/minute",
    ) as server:
        _, key = await server.user_with_key()

        statuses = await _statuses(server.client, "/v1/ping", key, 3)

    assert statuses == [200, 200, 200]
    warnings = [r for r in caplog.records if r.getMessage() == "rate_limit_unavailable"]
    assert len(warnings) == 1


async def test_without_redis_each_process_counts_alone(db: Database) -> None:
    async with serve(
        db, sandbox=False, run_scheduler=False, rate_limit_per_key="2/minute"
    ) as first:
        secret = first.rt.settings.api_token_secret.get_secret_value()
        async with serve(
            db,
            sandbox=False,
            run_scheduler=False,
            rate_limit_per_key="2/minute",
            api_token_secret=secret,
        ) as second:
            _, key = await first.user_with_key()

            on_first = await _statuses(first.client, "/v1/ping", key, 3)
            on_second = await _statuses(second.client, "/v1/ping", key, 3)

    assert on_first == on_second == [200, 200, 429]


def _environment(server: Server, redis: SharedRedis, per_key: str) -> dict[str, str]:
    """The settings of `server` as a second process reads them."""
    settings = server.rt.settings
    return clean_env(
        SYNDIC_DATABASE_URL=server.rt.db.url,
        SYNDIC_API_TOKEN_SECRET=settings.api_token_secret.get_secret_value(),
        SYNDIC_INTERNAL_API_SECRET=settings.internal_api_secret.get_secret_value(),
        SYNDIC_LEMON_WEBHOOK_SECRET=settings.lemon_webhook_secret.get_secret_value(),
        SYNDIC_CREDENTIALS_KEY=settings.credentials_key.get_secret_value(),
        SYNDIC_REDIS_URL=redis.url,
        SYNDIC_RATE_LIMIT_REDIS_PREFIX=redis.prefix,
        SYNDIC_RATE_LIMIT_PER_KEY=per_key,
        # the readiness polls of the start-up must not get in the way
        SYNDIC_RATE_LIMIT_PER_IP="1000/minute",
    )


async def test_two_server_processes_share_one_limit_through_redis(
    db: Database, shared_redis: SharedRedis, tmp_path: Path
) -> None:
    async with serve(
        db,
        sandbox=False,
        run_scheduler=False,
        redis_url=shared_redis.url,
        rate_limit_redis_prefix=shared_redis.prefix,
        rate_limit_per_key="6/minute",
    ) as here:
        other = Process(tmp_path, _environment(here, shared_redis, "6/minute"))
        other.start("serve", "--no-scheduler", "--host", "127.0.0.1")
        try:
            await asyncio.to_thread(other.wait_ready)
            _, key = await here.user_with_key()
            async with httpx.AsyncClient(base_url=other.url, timeout=10) as there:
                answers = [
                    await (here.client if turn % 2 == 0 else there).get(
                        "/v1/ping", headers=key
                    )
                    for turn in range(10)
                ]
        finally:
            await asyncio.to_thread(other.stop)

    assert [a.status_code for a in answers] == [200] * 6 + [429] * 4
    remaining = [a.headers["RateLimit-Remaining"] for a in answers[:6]]
    assert remaining == ["5", "4", "3", "2", "1", "0"]
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[6:])
