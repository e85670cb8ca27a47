"""Publishing one claimed post to its platforms, concurrently.

The post's point of no return checks the lease's fence, marks every
platform still to do `publishing` (one more attempt each) and reads the
user's credentials and media; `publish_started_at` is the instant it runs.
Each platform's answer is then recorded under the same fence, the last one
together with the post's final status; a retry after a transient failure
goes back through `pending` and its own point of no return. One platform's
failure, or a bug in its adapter, never stops the others.

All these writes go through the publisher's `Writer`, which commits what
is queued together; the platform calls go to its `Couriers` when the
scheduler has some, else they are made in this process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from syndic import plans
from syndic.db.repo import publishing
from syndic.platforms.base import Draft, Media, PlatformError, Receipt
from syndic.runtime import Runtime
from syndic.scheduler.couriers import CourierLost, Couriers
from syndic.scheduler.retry import GiveUp, RetryPolicy
from syndic.scheduler.writer import Round, Writer
from syndic.services import accounts, media

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

CALLS_AT_ONCE = 64  # platform calls in flight, per courier (or in this process)


class Publisher:
    def __init__(
        self, rt: Runtime, owner: str, policy: RetryPolicy, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.rt = rt
        self.owner = owner
        self.policy = policy
        self._sleep = sleep
        self.writer = Writer(rt.db, rt.events, owner, sleep)
        self.couriers: Couriers | None = None  # else calls are made in this process
        # fewer calls at once than an HTTP client's connections: a burst
        # waits here, not in the client's pool (whose upkeep grows with its
        # queue, and whose wait counts against the platform timeout)
        self._calls = asyncio.Semaphore(
            CALLS_AT_ONCE * max(1, rt.settings.publish_processes)
        )

    async def run(self, post_id: str, fence: int) -> str | None:
        """Publish the post held under `fence`; its final status, or None if it
        was no longer ours (cancelled, taken over, or its owner banned)."""
        started = await self.writer.start(publishing.Hold(post_id, fence))
        if started is None:
            log.info("post_dropped", extra={"post_id": post_id, "fence": fence})
            return None
        lateness = started.started_at - started.release_at
        log.info(
            "post_publishing",
            extra={
                "post_id": post_id,
                "platforms": [todo.platform for todo in started.todo],
                "lateness_ms": round(lateness.total_seconds() * 1000, 3),
            },
        )

        post = _Run(started)
        if not started.todo:  # every platform was settled by an earlier holder
            return await self._close(post)
        attached = media.for_adapters(started.files)
        closed = await asyncio.gather(
            *(self._deliver(post, todo, attached) for todo in started.todo)
        )
        return next((status for status in closed if status is not None), None)

    async def _deliver(
        self, post: _Run, todo: publishing.Todo, attached: tuple[Media, ...]
    ) -> str | None:
        """Call one platform until it answers for good; the post's final
        status if this answer was its last and closed it."""
        platform = todo.platform
        context = {"post_id": post.id, "platform": platform}
        adapter = self.rt.adapters.get(platform)
        credentials = accounts.unseal(self.rt, post.user_id, platform, todo.sealed)
        attempt = todo.attempts  # the point of no return counted this one

        if adapter is None or credentials is None:
            return await self._answer(
                post,
                todo,
                "failed",
                code="account.not_connected",
                error=f"no {platform} account is connected",
            )

        draft = _draft(post.started, platform, attached)
        while True:
            started = time.perf_counter()
            try:
                async with self._calls:
                    if self.couriers is not None:
                        receipt = await self.couriers.publish(
                            platform, draft, credentials
                        )
                    else:
                        receipt = await adapter.publish(draft, credentials)
            except PlatformError as exc:
                decision = self.policy.decide(attempt, exc)
                log.warning(
                    "platform_call_failed",
                    extra={
                        **context,
                        "attempt": attempt,
                        "code": exc.code,
                        "elapsed_ms": _since(started),
                        "retry": not isinstance(decision, GiveUp),
                    },
                )
                if isinstance(decision, GiveUp):
                    return await self._answer(
                        post, todo, "failed", code=exc.code, error=decision.reason
                    )
                if not await self._retry_after(post, todo, exc, decision.delay):
                    log.warning("delivery_lease_lost", extra=context)
                    return None
                attempt += 1
                continue
            except Exception as exc:  # whether the platform acted is unknown
                lost = isinstance(exc, CourierLost)
                if lost:
                    log.warning("courier_lost", extra=context)
                else:
                    log.exception("adapter_crashed", extra=context)
                return await self._answer(
                    post,
                    todo,
                    "unknown",
                    code="courier_lost" if lost else "adapter_crashed",
                    error=(
                        "the process making this call stopped during it"
                        if lost
                        else "the adapter failed unexpectedly"
                    )
                    + "; check the account before posting again",
                )

            log.info(
                "delivery_published",
                extra={
                    **context,
                    "attempt": attempt,
                    "elapsed_ms": _since(started),
                    "remote_id": receipt.remote_id,
                },
            )
            return await self._answer(post, todo, "published", receipt=receipt)

    async def _retry_after(
        self, post: _Run, todo: publishing.Todo, exc: PlatformError, delay: float
    ) -> bool:
        """Back to pending, wait, then through a new point of no return;
        False if the lease was lost meanwhile."""
        hold = post.started.hold

        async def defer(round_: Round) -> bool:
            return await publishing.defer(
                round_.conn,
                owner=self.owner,
                hold=hold,
                delivery_id=todo.delivery_id,
                error_code=exc.code,
                error=exc.message,
            )

        async def begin(round_: Round) -> bool:
            return await publishing.begin(
                round_.conn,
                owner=self.owner,
                hold=hold,
                delivery_id=todo.delivery_id,
                now=round_.now,
            )

        await self.writer.write(defer)
        await self._sleep(delay)
        return await self.writer.write(begin)

    async def _answer(
        self,
        post: _Run,
        todo: publishing.Todo,
        status: str,
        *,
        receipt: Receipt | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> str | None:
        """Record the platform's answer; the last one also closes the post."""
        final = post.settle(status)
        hold = post.started.hold
        event: dict[str, Any] = {
            "type": "delivery",
            "post_id": post.id,
            "platform": todo.platform,
            "status": status,
            "remote_id": receipt.remote_id if receipt else None,
            "url": receipt.url if receipt else None,
            "error": None if error is None else {"code": code, "message": error},
        }

        async def record(round_: Round) -> tuple[bool, bool]:
            recorded = await publishing.answer(
                round_.conn,
                owner=self.owner,
                hold=hold,
                delivery_id=todo.delivery_id,
                status=status,
                now=round_.now,
                remote_id=event["remote_id"],
                url=event["url"],
                error_code=code,
                error=error,
            )
            if recorded and post.live:
                round_.announce(post.user_id, event)
            closed = (
                recorded
                and final is not None
                and await self._close_in(round_, post, final)
            )
            return recorded, closed

        recorded, closed = await self.writer.write(record)
        if not recorded:
            # the lease was taken over while the call was in flight; the new
            # holder has marked this platform `unknown`
            log.warning(
                "delivery_result_fenced_out",
                extra={
                    "post_id": post.id,
                    "platform": todo.platform,
                    "status": status,
                    "remote_id": event["remote_id"],
                },
            )
        return _closed(post, final if closed else None)

    async def _close(self, post: _Run) -> str | None:
        final = post.final()

        async def close(round_: Round) -> bool:
            return await self._close_in(round_, post, final)

        return _closed(post, final if await self.writer.write(close) else None)

    async def _close_in(self, round_: Round, post: _Run, final: str) -> bool:
        closed = await publishing.close(
            round_.conn,
            owner=self.owner,
            hold=post.started.hold,
            status=final,
            now=round_.now,
        )
        if closed and post.live:
            event = {"type": "post", "post_id": post.id, "status": final}
            round_.announce(post.user_id, event)
        return closed


class _Run:
    """A post being published: the platforms' states as they settle."""

    def __init__(self, started: publishing.Started) -> None:
        self.started = started
        self.id = started.hold.post_id
        self.user_id = started.user_id
        self.live = plans.plan_for(started.tier).live_results
        self._states = list(started.settled)
        self._open = len(started.todo)

    def settle(self, status: str) -> str | None:
        """One platform is done; the post's final status if it was the last."""
        self._states.append(status)
        self._open -= 1
        return self.final() if self._open == 0 else None

    def final(self) -> str:
        return publishing.final_status(self._states)


def _closed(post: _Run, status: str | None) -> str | None:
    if status is not None:
        log.info("post_finished", extra={"post_id": post.id, "status": status})
    return status


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _draft(
    post: publishing.Started, platform: str, attached: tuple[Media, ...]
) -> Draft:
    texts: dict[str, str] = post.options.get("texts", {})
    per_platform: dict[str, Any] = post.options.get("per_platform", {})
    return Draft(
        text=texts.get(platform, post.text),
        options=per_platform.get(platform, {}),
        media=attached,
        idempotency_key=f"{post.hold.post_id}:{platform}",
    )
