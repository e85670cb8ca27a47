"""Throwaway databases for tests: a SQLite file, or a PostgreSQL database
created on the local server and dropped at the end of the run.

Without a reachable PostgreSQL, tests that need it are skipped with the
reason, except under `CI=true`, where they fail.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get(
    "SYNDIC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


async def pg_reachable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


def require_postgres(problem: str | None) -> None:
    if problem is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_DSN} is unreachable ({problem})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message)


class PostgresDatabases:
    """Creates databases on the local server; `drop_all` removes them."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self) -> str:
        name = f"syndic_test_{os.getpid()}_{secrets.token_hex(4)}"
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.created.append(name)
        return f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"

    async def drop_all(self) -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for name in self.created:
                await connection.execute(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )
        finally:
            await connection.close()


async def make_database_url(
    backend: str,
    sqlite_dir: Path,
    pg_databases: PostgresDatabases,
    pg_problem: str | None,
) -> str:
    """A fresh, empty database of `backend`, as a `SYNDIC_DATABASE_URL`."""
    if backend == "sqlite":
        return f"sqlite:///{sqlite_dir / (secrets.token_hex(4) + '.db')}"
    require_postgres(pg_problem)
    return await pg_databases.create()
