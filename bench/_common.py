"""Shared pieces of the benchmarks: databases, the emulator process, figures."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from syndic import config
from syndic.db import migrate
from syndic.db.engine import Database

PG_ADMIN_DSN = os.environ.get(
    "SYNDIC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulators:
    """`syndic emulators` in a process of its own, without rate limits."""

    def __init__(self, *, latency: float = 0.0, record: int = 10_000) -> None:
        self.latency = latency
        self.record = record
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulators:
        env = {**os.environ, "SYNDIC_LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "syndic",
                "emulators",
                "--port",
                str(self.port),
                "--no-rate-limits",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/_sandbox/requests?platform=x", timeout=0.5)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the emulators did not start")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


async def database(backend: str) -> tuple[Database, str | None]:
    """A migrated empty database; the PostgreSQL database name to drop, if any."""
    if backend == "sqlite":
        path = os.path.join(tempfile.mkdtemp(prefix="syndic-bench-"), "bench.db")
        db = Database(f"sqlite:///{path}")
        await migrate.upgrade(db)
        return db, None
    name = f"syndic_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    db = Database(f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}", pool_size=20)
    await migrate.upgrade(db)
    return db, name


async def drop(db: Database, name: str | None) -> None:
    await db.dispose()
    if name is not None:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def settings(db: Database, emulators: Emulators, **overrides: Any) -> config.Settings:
    values: dict[str, Any] = {
        "database_url": db.url,
        "api_token_secret": secrets.token_hex(32),
        "internal_api_secret": secrets.token_hex(32),
        "lemon_webhook_secret": secrets.token_hex(32),
        "credentials_key": secrets.token_hex(32),
        "discord_base_url": f"{emulators.url}/discord",
        "telegram_base_url": f"{emulators.url}/telegram",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return config.Settings(_env_file=None, **values)


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    if not ordered:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "p50": round(at(0.50), 3),
        "p99": round(at(0.99), 3),
        "max": round(ordered[-1], 3),
    }


def uniform(start: datetime, seconds: float, count: int) -> list[datetime]:
    return [start + timedelta(seconds=seconds * n / count) for n in range(count)]


def print_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    widths = [
        max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)
    ]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures, sort_keys=True))


async def until(predicate: Any, within: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every)
    return False
