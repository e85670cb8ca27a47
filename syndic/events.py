"""Live publish results, fanned out to WebSocket clients of every process.

On PostgreSQL each result is announced with `pg_notify` inside the
transaction that records it, so it reaches the subscribers of every syndic
process sharing the database (this one included) exactly when it is
committed. On SQLite, where syndic is a single process, it goes to this
process's subscribers once committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from syndic.db.kept import CoreConnection

log = logging.getLogger(__name__)

CHANNEL = "syndic_events"
QUEUE_SIZE = 256

# one statement however many events a transaction announces
_NOTIFY = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(:payloads) AS payload"
).bindparams(bindparam("payloads", type_=ARRAY(Text)))


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
        self, conn: CoreConnection, events: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """Within the transaction on `conn`: on PostgreSQL, hand `events`
        (user id, event) to every process's subscribers when it commits."""
        if not self._remote or not events:
            return
        payloads = [
            json.dumps({"user_id": user_id, "event": event}, default=str)
            for user_id, event in events
        ]
        await conn.execute(_NOTIFY, {"channel": CHANNEL, "payloads": payloads})

    def committed(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """After the commit: on SQLite, hand `events` to this process's
        subscribers (syndic is then the only process)."""
        if self._remote:
            return
        for user_id, event in events:
            self.publish(user_id, event)

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
