"""Periodic upkeep beside the publishing loop.

- `webhook_inbox` (every minute): processes Lemon Squeezy events that were
  stored but not processed (the process stopped between the two);
- `subscription_reconcile` (every `reconcile_interval`, with Lemon Squeezy
  configured): re-reads live subscriptions and repairs drift, since Lemon
  Squeezy stops retrying a webhook after a few minutes.

Every syndic process runs them; each job is safe to run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from syndic.billing import inbox, reconcile
from syndic.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds
    run: Callable[[], Awaitable[object]]


class Maintenance:
    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        self.jobs = [
            Job("webhook_inbox", 60.0, lambda: inbox.process_pending(rt.db, settings))
        ]
        if settings.lemon_api_key is not None:
            self.jobs.append(
                Job(
                    "subscription_reconcile",
                    settings.reconcile_interval,
                    lambda: reconcile.reconcile_subscriptions(rt.db, settings),
                )
            )
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(job), name=f"syndic-{job.name}")
            for job in self.jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, job: Job) -> None:
        # a random first delay keeps processes started together apart
        await asyncio.sleep(job.every * random.uniform(0.5, 1.0))
        while True:
            try:
                outcome = await job.run()
                log.info(
                    "maintenance_job_done",
                    extra={"job": job.name, "outcome": repr(outcome)[:200]},
                )
            except Exception:
                log.exception("maintenance_job_failed", extra={"job": job.name})
            await asyncio.sleep(job.every)
