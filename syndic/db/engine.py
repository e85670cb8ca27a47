"""The database: one async engine for SQLite or PostgreSQL, and transactions.

SQLite runs in WAL mode with a busy timeout, and every transaction starts
with `BEGIN IMMEDIATE`, so a transaction that reads and then writes never
fails on the read-to-write upgrade (SQLite does not wait there). Within a
process, SQLite transactions take turns (syndic runs one process per SQLite
file; the CLI's short writes rely on the busy timeout), and PostgreSQL ones
never outnumber the pool's connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from syndic import config, errors

log = logging.getLogger(__name__)

# a pool with no free connection in time counts as the database not answering
UNAVAILABLE = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    OSError,
    TimeoutError,
)


class Database:
    """An engine, a session factory and a count of statements sent."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = config.async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, Any] = {}
        if not self.is_sqlite:
            options = {
                "pool_size": pool_size,
                "max_overflow": pool_size,
                "pool_pre_ping": True,
            }
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.statements = 0
        # SQLite: one writer; PostgreSQL: no more transactions than connections
        self._turns = asyncio.Semaphore(1 if self.is_sqlite else 2 * pool_size)

        self.instrument(self.engine.sync_engine)

    def instrument(self, engine: Engine) -> None:
        """Count statements, refuse NUL text and set SQLite up on `engine`."""
        event.listen(engine, "before_cursor_execute", self._count)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        if self.is_sqlite:
            event.listen(engine, "connect", _sqlite_connect)
            event.listen(engine, "begin", _sqlite_begin)

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed on success.

        A database that cannot be reached raises `ServiceUnavailable`.
        """
        try:
            async with self.turn(), self.sessions() as session, session.begin():
                yield session
        except UNAVAILABLE as exc_:
            log.warning("database_unavailable", extra={"error": type(exc_).__name__})
            raise errors.ServiceUnavailable("the database is not answering") from exc_

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        # Transactions wait for their turn here, in the event loop. On SQLite
        # this replaces busy-waiting in driver threads, which under load
        # holds the write lock across loop delays and times out; on
        # PostgreSQL it keeps a burst from timing out in the pool queue.
        async with self._turns:
            yield

    async def ping(self) -> None:
        async with self.transaction() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith("BEGIN"):
            self.statements += 1


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, parameters: Any, *_: Any
) -> None:
    """Refuse text holding NUL characters on both databases alike.

    PostgreSQL cannot store U+0000 in text at all, and SQLite would keep a
    string other tools cut short; either way it is bad input, not a fault.
    """
    rows = parameters if isinstance(parameters, list) else [parameters]
    for row in rows:
        values = row.values() if isinstance(row, dict) else row or ()
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise errors.InvalidInput("values must not contain NUL (U+0000) characters")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
