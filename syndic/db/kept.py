"""A connection of its own for a writer that commits hundreds of times a second.

The publisher's transactions are short and made of prebuilt Core
statements. Through the pool and an ORM session, most of their cost would
be the checkout and the session; a kept connection skips both. On
PostgreSQL it also never waits for the pool, which a burst of API requests
may have drained.

On SQLite the kept connection is a plain `sqlite3` connection driven on the
event loop itself. A statement there takes tens of microseconds, less than
handing it to a driver thread and back (which also contends for the GIL
with the loop), and its transactions still take their turn with the rest
of the process, so it never waits for another writer of this process. Its
busy timeout is short: another process briefly writing (a CLI command)
makes the transaction fail as unavailable, to be tried again later,
instead of stalling the loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, CursorResult, Executable, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from syndic import errors
from syndic.db.engine import UNAVAILABLE, Database

log = logging.getLogger(__name__)

INLINE_BUSY_TIMEOUT_MS = 50


class CoreConnection(Protocol):
    """Where prebuilt Core statements run, inside the current transaction."""

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]: ...


class KeptConnection:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._line: _Inline | _Async | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[CoreConnection]:
        """The connection inside one transaction, committed on success. A
        database that cannot be reached raises `ServiceUnavailable`, and the
        connection is reopened on next use."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self._db.is_sqlite:
                    await stack.enter_async_context(self._db.turn())
                line = await self._open()
                yield await stack.enter_async_context(line.transaction())
        except UNAVAILABLE as exc:
            await self.close()
            log.warning("database_unavailable", extra={"error": type(exc).__name__})
            raise errors.ServiceUnavailable("the database is not answering") from exc

    async def close(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            with contextlib.suppress(*UNAVAILABLE):
                await line.close()

    async def _open(self) -> _Inline | _Async:
        if self._line is None:
            if self._db.is_sqlite:
                self._line = _Inline(self._db)
            else:
                self._line = _Async(await self._db.engine.connect())
        return self._line


class _Async:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[CoreConnection]:
        async with self._connection.begin():
            yield self

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        return await self._connection.execute(statement, parameters)

    async def close(self) -> None:
        await self._connection.close()


class _Inline:
    def __init__(self, db: Database) -> None:
        url = make_url(db.url).set(drivername="sqlite")
        self._engine = create_engine(url)
        db.instrument(self._engine)
        event.listen(self._engine, "connect", _short_busy_timeout)
        self._connection: Connection = self._engine.connect()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[CoreConnection]:
        with self._connection.begin():
            yield self

    async def execute(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)

    async def close(self) -> None:
        self._connection.close()
        self._engine.dispose()


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={INLINE_BUSY_TIMEOUT_MS}")
    cursor.close()
