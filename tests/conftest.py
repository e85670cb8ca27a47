"""Shared fixtures: a real database per backend, migrated once per run.

Every test that asks for `db` runs twice, on a SQLite file and on a
PostgreSQL database made for this run (dropped at the end). Without a
reachable PostgreSQL the PostgreSQL half is skipped with the reason, except
under `CI=true`, where it fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from support.databases import (
    PostgresDatabases,
    make_database_url,
    pg_reachable,
    require_postgres,
)

from syndic.db import migrate
from syndic.db.engine import Database
from syndic.db.models import Base

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None."""
    return asyncio.run(pg_reachable())


@pytest.fixture(scope="session")
async def pg_databases() -> AsyncIterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    if databases.created:
        await databases.drop_all()


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite")


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
    if backend == "postgresql":
        require_postgres(pg_problem)
    if backend not in _shared:
        url = await make_database_url(backend, sqlite_dir, pg_databases, pg_problem)
        database = Database(url)
        await migrate.upgrade(database)
        _shared[backend] = database
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
