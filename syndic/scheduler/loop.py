"""Ticks, leases and exact timers.

Every `tick` seconds the scheduler claims, in one query, the posts due
before the next tick (plus a margin) and arms one timer per post at its
release instant; lower tiers simply have release instants on their cadence
boundaries. The database is not polled in between. A post accepted while
its release falls inside the current window is claimed at once.

Max-tier posts are published the moment their timer fires. Posts of the
cadence tiers all come due on the same boundaries (:00, :15, :30, :45), so
they go through a small pool of workers instead: the burst is spread over
the following seconds and never starves the exact timers of max posts.

Leases last `lease` seconds past the window and are renewed on each tick
while held. A lease that lapses (the holder died or stalled) makes the post
claimable by any process on its next tick.

What a fired post then does (its point of no return, the platform calls,
the answers) is the `Publisher`'s; the calls themselves run in courier
processes when `publish_processes` is set, so this loop keeps exact time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from contextvars import Context
from datetime import datetime, timedelta

from syndic import clock, errors, plans
from syndic.db.repo import leases
from syndic.runtime import Runtime
from syndic.scheduler.couriers import Couriers
from syndic.scheduler.dispatch import Publisher
from syndic.scheduler.retry import RetryPolicy
from syndic.scheduler.timers import TimerQueue

log = logging.getLogger(__name__)

MARGIN = 0.1  # of a tick: how far past the next tick a claim reaches


class Scheduler:
    def __init__(
        self,
        rt: Runtime,
        *,
        tick: float | None = None,
        lease: float | None = None,
        batch: int | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        settings = rt.settings
        self.rt = rt
        self.tick_seconds = tick or settings.scheduler_tick
        self.lease_seconds = lease or settings.scheduler_lease
        self.batch = batch or settings.scheduler_batch
        # a fresh identity per start: a restarted process never inherits leases
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.publisher = Publisher(
            rt,
            self.owner,
            policy or RetryPolicy(max_attempts=settings.publish_max_attempts),
        )
        self.horizon = clock.now()
        self._timers = TimerQueue(self._fire)
        self._inflight: set[asyncio.Task[object]] = set()
        self._claiming: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lane: asyncio.Queue[leases.Claim] = asyncio.Queue()
        self._lane_workers: list[asyncio.Task[None]] = []
        self.lane_size = settings.scheduler_cadence_workers

    @property
    def armed(self) -> int:
        """Posts claimed and waiting for their release instant."""
        return len(self._timers)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def start(self) -> None:
        processes = self.rt.settings.publish_processes
        if processes:
            couriers = Couriers(
                self.rt.settings, size=processes, emulator_root=self.rt.emulator_root
            )
            await couriers.start()
            self.publisher.couriers = couriers
        if self.rt.db.is_sqlite:
            # the file is locked to this process: other owners are dead
            async with self.rt.db.transaction() as session:
                await leases.lapse_others(session, owner=self.owner, now=clock.now())
        self._loop_task = asyncio.create_task(self._run(), name="syndic-scheduler")
        self._lane_workers = [
            asyncio.create_task(self._drain_lane(), name=f"syndic-cadence-{n}")
            for n in range(self.lane_size)
        ]
        log.info(
            "scheduler_started", extra={"owner": self.owner, "tick": self.tick_seconds}
        )

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking work, hand back leases not yet started, let in-flight
        publishes finish for up to `grace` seconds."""
        self._stopping.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._claiming:
            await asyncio.wait(self._claiming)
        self._timers.clear()
        for worker in self._lane_workers:
            if worker not in self._inflight:
                worker.cancel()  # idle; busy ones finish their post and leave

        async with self.rt.db.transaction() as session:
            released = await leases.release(session, owner=self.owner, now=clock.now())
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=grace)
        await self.publisher.writer.close()
        if self.publisher.couriers is not None:
            await self.publisher.couriers.close()
        log.info(
            "scheduler_stopped",
            extra={
                "owner": self.owner,
                "released": released,
                "unfinished": sum(not t.done() for t in self._inflight),
            },
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self._stopping.is_set():
            # ticks keep their cadence however long one takes, so the window
            # each claims always reaches the next
            next_tick += self.tick_seconds
            full, renew = True, True
            while full and not self._stopping.is_set():
                try:
                    # more is due than a batch: claim on, renewing only once
                    full = await self.tick(renew=renew)
                except Exception:
                    log.exception("scheduler_tick_failed", extra={"owner": self.owner})
                    full = False
                renew = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), max(next_tick - loop.time(), 0.0)
                )

    async def tick(self, *, renew: bool = True) -> bool:
        """Claim what is due before the next tick, and with `renew` extend the
        leases held; True if the batch was full."""
        now = clock.now()
        horizon = now + timedelta(seconds=self.tick_seconds * (1 + MARGIN))
        lease_until = horizon + timedelta(seconds=self.lease_seconds)

        async with self.rt.db.transaction() as session:
            claims = await leases.claim_due(
                session,
                owner=self.owner,
                horizon=horizon,
                lease_until=lease_until,
                now=now,
                limit=self.batch,
            )
            if renew and (self._timers or self._inflight):
                await leases.renew(session, owner=self.owner, until=lease_until)

        self.horizon = horizon
        for claim in claims:
            self._arm(claim)
        log.debug(
            "scheduler_tick",
            extra={"claimed": len(claims), "timers": len(self._timers)},
        )
        return len(claims) >= self.batch

    def notice(self, post_id: str, release_at: datetime) -> None:
        """A post was just accepted: claim it now if it is due inside this window."""
        if self._stopping.is_set() or release_at >= self.horizon:
            return
        # a context of its own: the request that accepted the post is not this
        # work's (its request id must not follow the post into the logs)
        task = asyncio.create_task(self._claim_now(post_id), context=Context())
        self._claiming.add(task)
        task.add_done_callback(self._claiming.discard)

    def forget(self, post_id: str) -> None:
        self._timers.discard(post_id)

    async def _claim_now(self, post_id: str) -> None:
        now = clock.now()
        lease_until = self.horizon + timedelta(seconds=self.lease_seconds)
        try:
            async with self.rt.db.transaction() as session:
                claim = await leases.claim_one(
                    session,
                    post_id=post_id,
                    owner=self.owner,
                    lease_until=lease_until,
                    now=now,
                )
        except Exception:
            log.exception("post_claim_failed", extra={"post_id": post_id})
            return
        if claim is not None:
            self._arm(claim)

    def _arm(self, claim: leases.Claim) -> None:
        self._timers.add(claim)

    def _fire(self, claim: leases.Claim) -> None:
        if claim.tier != plans.Tier.MAX:
            self._lane.put_nowait(claim)
            return
        task = asyncio.create_task(
            self._publish(claim), name=f"publish-{claim.post_id}"
        )
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _drain_lane(self) -> None:
        while not self._stopping.is_set():
            claim = await self._lane.get()
            task = asyncio.current_task()
            assert task is not None
            self._inflight.add(task)
            try:
                await self._publish(claim)
            finally:
                self._inflight.discard(task)

    async def _publish(self, claim: leases.Claim) -> None:
        try:
            await self.publisher.run(claim.post_id, claim.fence)
        except errors.ServiceUnavailable as exc:
            # the database is down, or this scheduler stopped: the lease
            # lapses and the post's next holder settles it
            log.warning(
                "post_publish_interrupted",
                extra={"post_id": claim.post_id, "reason": str(exc)},
            )
        except Exception:
            log.exception("post_publish_failed", extra={"post_id": claim.post_id})
