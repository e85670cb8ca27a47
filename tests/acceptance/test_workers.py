"""Several scheduler processes on one PostgreSQL database, one of them killed.

Real `syndic worker` processes publish to a real `syndic emulators` process
(answering after 200 ms, like a distant API). Every post must end finished
(none lost), no platform may see a post twice (none duplicated), and a post
whose call was in flight when its worker died must be `unknown`, not resent.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from support.databases import PostgresDatabases, make_database_url
from support.fleet import due_posts, user_with_account
from support.processes import Process, clean_env, free_port

from syndic import clock
from syndic.db.engine import Database
from syndic.db.models import Delivery, Post
from syndic.platforms.emulators import discord

SECRETS = {
    "SYNDIC_API_TOKEN_SECRET": "4f2a9c1be7d84a6f0c5b2e9d1a8f3c7b",
    "SYNDIC_INTERNAL_API_SECRET": "9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e",
    "SYNDIC_LEMON_WEBHOOK_SECRET": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "SYNDIC_CREDENTIALS_KEY": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
}


async def fleet_env(tmp_path: Path, url: str, emulators: Process) -> dict[str, str]:
    return clean_env(
        **SECRETS,
        SYNDIC_DATABASE_URL=url,
        SYNDIC_DISCORD_BASE_URL=f"{emulators.url}/discord",
        SYNDIC_SCHEDULER_TICK="1",
        SYNDIC_SCHEDULER_LEASE="4",
        SYNDIC_PLATFORM_TIMEOUT="2",
    )


def start_emulators(tmp_path: Path, processes: list[Process]) -> Process:
    emulators = Process(tmp_path, clean_env(), port=free_port())
    processes.append(emulators)
    emulators.start(
        "emulators",
        "--port",
        str(emulators.port),
        "--no-rate-limits",
        "--latency",
        "0.2",
        "--record",
        "100000",
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{emulators.url}/_sandbox/requests", timeout=1)
            return emulators
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the emulators did not start")


async def seed(url: str, count: int, spread: float) -> tuple[Database, list[str]]:
    db = Database(url)
    user = await user_with_account(
        db,
        SECRETS["SYNDIC_CREDENTIALS_KEY"],
        "discord",
        dict(discord.SANDBOX_CREDENTIALS),
    )
    start = clock.now() + timedelta(seconds=2)
    due = [start + timedelta(seconds=spread * n / count) for n in range(count)]
    return db, await due_posts(db, user, due, "discord", text="marker-{n}")


async def wait_finished(db: Database, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with db.transaction() as session:
            open_ = (
                await session.execute(select(Post.id).where(Post.finished_at.is_(None)))
            ).all()
        if not open_:
            return
        await asyncio.sleep(0.5)
    pytest.fail(f"{len(open_)} posts never finished")


async def outcome(
    db: Database, emulators: Process
) -> tuple[Counter[str], dict[str, tuple[str, str, datetime | None]]]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{emulators.url}/_sandbox/requests?platform=discord")
    received = answer.json()["requests"]
    seen = Counter(e["body"]["content"] for e in received if e["method"] == "POST")
    async with db.transaction() as session:
        rows = (
            await session.execute(
                select(
                    Post.text, Post.status, Delivery.status, Delivery.started_at
                ).join(Delivery)
            )
        ).all()
    return seen, {
        text: (post, delivery, started) for text, post, delivery, started in rows
    }


async def prepared(
    tmp_path: Path,
    processes: list[Process],
    pg: PostgresDatabases,
    problem: str | None,
    sqlite_dir: Path,
) -> tuple[str, Process, dict[str, str]]:
    url = await make_database_url("postgresql", sqlite_dir, pg, problem)
    emulators = start_emulators(tmp_path, processes)
    env = await fleet_env(tmp_path, url, emulators)
    Process(tmp_path, env).run("migrate")
    return url, emulators, env


def workers(
    tmp_path: Path, env: dict[str, str], processes: list[Process], count: int
) -> list[Process]:
    started = []
    for _ in range(count):
        worker = Process(tmp_path, env)
        processes.append(worker)
        worker.start("worker")
        started.append(worker)
    return started


async def test_two_workers_share_the_posts_and_publish_each_once(
    tmp_path: Path,
    processes: list[Process],
    pg_databases: PostgresDatabases,
    pg_problem: str | None,
    sqlite_dir: Path,
) -> None:
    url, emulators, env = await prepared(
        tmp_path, processes, pg_databases, pg_problem, sqlite_dir
    )
    db, _ = await seed(url, 200, spread=3)
    workers(tmp_path, env, processes, 2)

    try:
        await wait_finished(db, within=60)
        seen, states = await outcome(db, emulators)
    finally:
        await db.dispose()

    assert len(states) == 200
    assert all(state[:2] == ("published", "published") for state in states.values())
    assert set(seen) == set(states)
    assert max(seen.values()) == 1


async def test_a_worker_killed_mid_dispatch_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
    processes: list[Process],
    pg_databases: PostgresDatabases,
    pg_problem: str | None,
    sqlite_dir: Path,
) -> None:
    url, emulators, env = await prepared(
        tmp_path, processes, pg_databases, pg_problem, sqlite_dir
    )
    db, _ = await seed(url, 300, spread=6)
    fleet = workers(tmp_path, env, processes, 3)

    try:
        await asyncio.sleep(4.5)  # the fleet is publishing
        killed_at = clock.now()
        fleet[0].signal(signal.SIGKILL)
        assert fleet[0].popen is not None
        fleet[0].popen.wait(10)
        workers(tmp_path, env, processes, 1)
        await wait_finished(db, within=90)
        seen, states = await outcome(db, emulators)
    finally:
        await db.dispose()

    assert len(states) == 300
    assert max(seen.values()) == 1, "a platform received a post twice"
    for text, (post_status, delivery, started) in states.items():
        if delivery == "published":
            assert seen[text] == 1
            continue
        # the killed worker's calls in flight: outcome unknown, never resent
        assert delivery == "unknown", (text, post_status, delivery)
        assert started is not None
        assert started <= killed_at
        assert seen[text] <= 1
