"""Shared fixtures: a real database per backend, migrated once per run.

Every test that asks for `db` runs twice, on a SQLite file and on a
PostgreSQL database made for this run (dropped at the end). Without a
reachable PostgreSQL the PostgreSQL half is skipped with the reason, except
under `CI=true`, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import delete

from syndic.db import migrate
from syndic.db.engine import Database
from syndic.db.models import Base

PG_ADMIN_DSN = os.environ.get(
    "SYNDIC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("sqlite", "postgresql")


async def _pg_reachable() -> str | None:
    try:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None."""
    return asyncio.run(_pg_reachable())


def require_postgres(problem: str | None) -> None:
    if problem is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_DSN} is unreachable ({problem})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message)


class PostgresDatabases:
    """Creates throwaway databases on the local server and drops them at the end."""

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
        base = PG_ADMIN_DSN.rsplit("/", 1)[0]
        return f"{base}/{name}"

    async def drop_all(self) -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            for name in self.created:
                await connection.execute(
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                )
        finally:
            await connection.close()


@pytest.fixture(scope="session")
async def pg_databases() -> AsyncIterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    if databases.created:
        await databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite")


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


_shared: dict[str, Database] = {}


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest,
    sqlite_dir: Path,
    pg_databases: PostgresDatabases,
    pg_problem: str | None,
) -> AsyncIterator[Database]:
    """A migrated database (one per backend per run), emptied after each test."""
    backend: str = request.param
    if backend not in _shared:
        url = await make_database_url(backend, sqlite_dir, pg_databases, pg_problem)
        database = Database(url)
        await migrate.upgrade(database)
        _shared[backend] = database
    elif backend == "postgresql":
        require_postgres(pg_problem)
    database = _shared[backend]

    yield database

    async with database.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))


@pytest.fixture(scope="session", autouse=True)
async def _dispose_shared() -> AsyncIterator[None]:
    yield
    for database in _shared.values():
        await database.dispose()
    _shared.clear()
