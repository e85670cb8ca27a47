"""Live publish results, fanned out to WebSocket clients of every process.

On PostgreSQL each result is announced with `pg_notify` inside the
transaction that records it, so it reaches the subscribers of every syndic
process sharing the database (this one included) exactly when it is
committed. On SQLite, where syndic is a single process, it goes straight to
this process's subscribers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

CHANNEL = "syndic_events"
QUEUE_SIZE = 256


class EventHub:
    """Each subscriber gets a bounded queue; a slow one loses its oldest events."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._remote = False
        self._listener: asyncpg.Connection | None = None

    async def listen(self, dsn: str) -> None:
        """Receive what every process on this PostgreSQL database announces."""
        self._listener = await asyncpg.connect(dsn)
        await self._listener.add_listener(CHANNEL, self._on_notify)

    def announce_through_database(self) -> None:
        self._remote = True

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    def subscribe(self, user_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._queues[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues[user_id].discard(queue)
        if not self._queues[user_id]:
            del self._queues[user_id]

    async def announce(
        self, session: AsyncSession, user_id: str, event: dict[str, Any]
    ) -> None:
        """Make `event` known to `user_id`'s subscribers once `session` commits."""
        if not self._remote:
            self.publish(user_id, event)
            return
        payload = json.dumps({"user_id": user_id, "event": event}, default=str)
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": payload},
        )

    def publish(self, user_id: str, event: dict[str, Any]) -> None:
        for queue in self._queues.get(user_id, ()):
            if queue.full():
                queue.get_nowait()
                log.warning("live_event_dropped", extra={"user_id": user_id})
            queue.put_nowait(event)

    def _on_notify(
        self, _connection: object, _pid: int, _channel: str, payload: str
    ) -> None:
        try:
            message = json.loads(payload)
            self.publish(str(message["user_id"]), dict(message["event"]))
        except (ValueError, KeyError, TypeError):
            log.warning("live_event_unreadable", exc_info=True)
