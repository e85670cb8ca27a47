"""The publisher's writes, committed in groups on connections of their own.

Every write of publishing is queued in one of two lanes, each with its own
kept connection. One transaction at a time takes everything its lane has
queued; while it runs, the next group gathers. At a steady rate a group is
one write and waits for nothing; in a burst the groups grow, and a thousand
posts due in the same second pass their points of no return in a few
statements instead of a thousand transactions.

- The start lane holds the points of no return, whose instant is each
  post's publish start: they never wait behind other writes, nor (with a
  second connection) behind a start already in flight, on PostgreSQL; on
  SQLite every write of the process takes its turn.
- The write lane holds everything else: a platform's answer (with the
  post's close, for the last one) and a retry's deferral and new start.
  On SQLite its transactions run on the event loop itself (see
  `syndic.db.kept`), so it takes at most `SQLITE_WRITE_GROUP` writes at a
  time: a start never waits behind more than that.

Live results the writes announce go out with the commit. A group the
database cannot take right now is tried again with a pause (an answer, once
received, must not be lost to a busy database); a group that fails for any
other reason is split, so one bad write fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from syndic import clock, errors
from syndic.db.engine import Database
from syndic.db.kept import CoreConnection, KeptConnection
from syndic.db.repo import publishing
from syndic.events import EventHub

log = logging.getLogger(__name__)

T = TypeVar("T")
W = TypeVar("W")
R = TypeVar("R")
Sleep = Callable[[float], Awaitable[None]]

ATTEMPTS = 5  # per group while the database is unavailable
SQLITE_WRITE_GROUP = 8
START_CONNECTIONS = 2  # on PostgreSQL; SQLite has one writer at a time


class Round:
    """One transaction: its connection, its instant, the events it announces."""

    def __init__(self, conn: CoreConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.events: list[tuple[str, dict[str, Any]]] = []

    def announce(self, user_id: str, event: dict[str, Any]) -> None:
        self.events.append((user_id, event))


Write = Callable[[Round], Awaitable[T]]


class Writer:
    def __init__(
        self, db: Database, events: EventHub, owner: str, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._owner = owner
        self._starts: _Lane[publishing.Hold, publishing.Started | None] = _Lane(
            "start",
            db,
            events,
            sleep,
            self._start_all,
            parallel=1 if db.is_sqlite else START_CONNECTIONS,
        )
        self._writes: _Lane[Write[Any], Any] = _Lane(
            "write",
            db,
            events,
            sleep,
            _write_all,
            limit=SQLITE_WRITE_GROUP if db.is_sqlite else None,
        )

    async def start(self, hold: publishing.Hold) -> publishing.Started | None:
        """Pass the post's point of no return; None if it is no longer ours."""
        return await self._starts.submit(hold)

    async def write(self, work: Write[T]) -> T:
        """Run `work` in the next transaction; its result once committed."""
        result: T = await self._writes.submit(work)
        return result

    async def close(self) -> None:
        await asyncio.gather(self._starts.close(), self._writes.close())

    async def _start_all(
        self, round_: Round, holds: Sequence[publishing.Hold]
    ) -> list[publishing.Started | None]:
        started = await publishing.start(
            round_.conn, owner=self._owner, holds=holds, now=round_.now
        )
        return [started.get(hold.post_id) for hold in holds]


async def _write_all(round_: Round, works: Sequence[Write[Any]]) -> list[Any]:
    return [await work(round_) for work in works]


class _Lane(Generic[W, R]):
    """A queue drained one transaction at a time per connection of its own;
    with `parallel` connections, a group that arrives while one commits goes
    out on the next connection instead of waiting."""

    def __init__(
        self,
        name: str,
        db: Database,
        events: EventHub,
        sleep: Sleep,
        run: Callable[[Round, Sequence[W]], Awaitable[list[R]]],
        *,
        limit: int | None = None,
        parallel: int = 1,
    ) -> None:
        self._name = name
        self._limit = limit
        self._idle = [KeptConnection(db) for _ in range(parallel)]
        self._connections = list(self._idle)
        self._events = events
        self._sleep = sleep
        self._run = run
        self._queue: list[tuple[W, asyncio.Future[R]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, work: W) -> R:
        if self._closed:
            # a publish outliving the scheduler's stop: its lease will lapse
            # and the next holder settles the post
            raise errors.ServiceUnavailable("the publisher has stopped")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._idle:  # a connection is free: its drainer takes the queue
            drainer = asyncio.create_task(
                self._drain(self._idle.pop()), name=f"syndic-writer-{self._name}"
            )
            self._drainers.add(drainer)
            drainer.add_done_callback(self._drainers.discard)
        return await future

    async def close(self) -> None:
        self._closed = True
        if self._drainers:
            await asyncio.wait(self._drainers)
        for connection in self._connections:
            await connection.close()

    async def _drain(self, connection: KeptConnection) -> None:
        try:
            while self._queue:
                group = self._queue[: self._limit]
                del self._queue[: len(group)]
                await self._settle(connection, group)
        finally:
            self._idle.append(connection)

    async def _settle(
        self, connection: KeptConnection, group: list[tuple[W, asyncio.Future[R]]]
    ) -> None:
        try:
            await self._commit(connection, group)
        except Exception as exc:
            if isinstance(exc, errors.ServiceUnavailable) or len(group) == 1:
                _fail(group, exc)
                return
            log.exception(
                "publish_group_failed", extra={"lane": self._name, "size": len(group)}
            )
            for queued in group:  # one by one: the bad write fails alone
                try:
                    await self._commit(connection, [queued])
                except Exception as exc_:
                    log.exception("publish_write_failed", extra={"lane": self._name})
                    _fail([queued], exc_)

    async def _commit(
        self, connection: KeptConnection, group: list[tuple[W, asyncio.Future[R]]]
    ) -> None:
        """One transaction for the group, tried again while the database is
        unavailable; each future gets its result once committed."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with connection.transaction() as conn:
                    round_ = Round(conn, clock.now())
                    results = await self._run(round_, [work for work, _ in group])
                    await self._events.announce(conn, round_.events)
                break
            except errors.ServiceUnavailable:
                if attempt == ATTEMPTS:
                    raise
                log.warning(
                    "publish_write_retry",
                    extra={"lane": self._name, "attempt": attempt},
                )
                await self._sleep(0.2 * 2**attempt)

        self._events.committed(round_.events)
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():  # its waiter may have been cancelled meanwhile
                future.set_result(result)


def _fail(group: Sequence[tuple[Any, asyncio.Future[Any]]], exc: BaseException) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(exc)
