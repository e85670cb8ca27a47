"""Many release instants behind one asyncio timer.

Each armed post costs a heap entry instead of a `TimerHandle` of its own,
and the loop holds a single timer for the earliest instant. Waking up
re-reads the wall clock and releases only what is due by it, so a timer
that fires a little early (asyncio may wake up to one clock tick ahead)
waits for the rest instead of publishing before time.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from contextvars import Context

from syndic.db.repo.leases import Claim


class TimerQueue:
    def __init__(self, fire: Callable[[Claim], None]) -> None:
        self._fire = fire
        self._heap: list[tuple[float, str, Claim]] = []
        self._armed: dict[str, Claim] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._next_at: float | None = None

    def __len__(self) -> int:
        return len(self._armed)

    def add(self, claim: Claim) -> None:
        """Arm `claim` at its release instant, replacing any earlier arming."""
        at = claim.release_at.timestamp()
        self._armed[claim.post_id] = claim
        heapq.heappush(self._heap, (at, claim.post_id, claim))
        if self._next_at is None or at < self._next_at:
            self._schedule()

    def discard(self, post_id: str) -> None:
        # the heap entry stays and is skipped when it comes up
        self._armed.pop(post_id, None)

    def clear(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._next_at = None
        self._heap.clear()
        self._armed.clear()

    def _schedule(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._next_at = None
        if not self._heap:
            return
        loop = asyncio.get_running_loop()
        self._next_at = self._heap[0][0]
        delay = self._next_at - time.time()
        # fired in a context of its own, whichever request armed it
        self._handle = loop.call_at(
            loop.time() + max(delay, 0.0), self._wake, context=Context()
        )

    def _wake(self) -> None:
        now = time.time()
        while self._heap and self._heap[0][0] <= now:
            _, post_id, claim = heapq.heappop(self._heap)
            if self._armed.get(post_id) is claim:
                del self._armed[post_id]
                self._fire(claim)
        self._schedule()
