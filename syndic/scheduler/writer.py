"""The publisher's writes, committed in groups on a connection of its own.

Every write of publishing (a post's point of no return, a platform's
answer, a retry's deferral) is queued here. One transaction at a time takes
everything queued: while it runs, the next group gathers. At a steady rate a
group is one write and waits for nothing; in a burst the groups grow, and a
thousand posts due in the same second pass their points of no return in a
few statements instead of a thousand transactions.

Points of no return go first in each transaction and share its statements
(`publishing.start`); other writes run one after the other. Live results the
writes announce go out with the commit. A group the database cannot take
right now is tried again with a pause (an answer, once received, must not be
lost to a busy database); a group that fails for any other reason is split,
so one bad write fails alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from syndic import clock, errors
from syndic.db.engine import Database
from syndic.db.kept import CoreConnection, KeptConnection
from syndic.db.repo import publishing
from syndic.events import EventHub

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

ATTEMPTS = 5  # per group while the database is unavailable


class Round:
    """One transaction: its connection, its instant, the events it announces."""

    def __init__(self, conn: CoreConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.events: list[tuple[str, dict[str, Any]]] = []

    def announce(self, user_id: str, event: dict[str, Any]) -> None:
        self.events.append((user_id, event))


Write = Callable[[Round], Awaitable[T]]


class _Queued(Generic[T]):
    __slots__ = ("future", "work")

    def __init__(self, work: T, future: asyncio.Future[Any]) -> None:
        self.work = work
        self.future = future


class Writer:
    def __init__(
        self, db: Database, events: EventHub, owner: str, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._connection = KeptConnection(db)
        self._events = events
        self._owner = owner
        self._sleep = sleep
        self._starts: list[_Queued[publishing.Hold]] = []
        self._writes: list[_Queued[Write[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def start(self, hold: publishing.Hold) -> publishing.Started | None:
        """Pass the post's point of no return; None if it is no longer ours."""
        future: asyncio.Future[publishing.Started | None] = self._queue()
        self._starts.append(_Queued(hold, future))
        return await future

    async def write(self, work: Write[T]) -> T:
        """Run `work` in the next transaction; its result once committed."""
        future: asyncio.Future[T] = self._queue()
        self._writes.append(_Queued(work, future))
        return await future

    async def close(self) -> None:
        if self._drainer is not None:
            await asyncio.wait([self._drainer])
        await self._connection.close()

    def _queue(self) -> asyncio.Future[Any]:
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="syndic-writer")
        return asyncio.get_running_loop().create_future()

    async def _drain(self) -> None:
        while self._starts or self._writes:
            starts, self._starts = self._starts, []
            writes, self._writes = self._writes, []
            try:
                await self._commit(starts, writes)
            except Exception as exc:
                if (
                    isinstance(exc, errors.ServiceUnavailable)
                    or len(starts) + len(writes) == 1
                ):
                    _fail([*starts, *writes], exc)
                    continue
                log.exception(
                    "publish_group_failed", extra={"size": len(starts) + len(writes)}
                )
                await self._one_by_one(starts, writes)

    async def _one_by_one(
        self, starts: list[_Queued[publishing.Hold]], writes: list[_Queued[Write[Any]]]
    ) -> None:
        groups: list[tuple[list[_Queued[publishing.Hold]], list[_Queued[Write[Any]]]]]
        groups = [(starts, [])] if starts else []
        groups += [([], [queued]) for queued in writes]
        for group_starts, group_writes in groups:
            try:
                await self._commit(group_starts, group_writes)
            except Exception as exc:
                log.exception("publish_write_failed")
                _fail([*group_starts, *group_writes], exc)

    async def _commit(
        self, starts: list[_Queued[publishing.Hold]], writes: list[_Queued[Write[Any]]]
    ) -> None:
        """One transaction for the group, tried again while the database is
        unavailable; each queued future gets its result once committed."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._connection.transaction() as conn:
                    round_ = Round(conn, clock.now())
                    started = await publishing.start(
                        conn,
                        owner=self._owner,
                        holds=[queued.work for queued in starts],
                        now=round_.now,
                    )
                    results = [await queued.work(round_) for queued in writes]
                    await self._events.announce(conn, round_.events)
                break
            except errors.ServiceUnavailable:
                if attempt == ATTEMPTS:
                    raise
                log.warning("publish_write_retry", extra={"attempt": attempt})
                await self._sleep(0.2 * 2**attempt)

        self._events.committed(round_.events)
        for start in starts:
            _settle(start.future, started.get(start.work.post_id))
        for write, result in zip(writes, results, strict=True):
            _settle(write.future, result)


def _settle(future: asyncio.Future[Any], result: object) -> None:
    if not future.done():  # its waiter may have been cancelled meanwhile
        future.set_result(result)


def _fail(queued: list[Any], exc: BaseException) -> None:
    for item in queued:
        if not item.future.done():
            item.future.set_exception(exc)
