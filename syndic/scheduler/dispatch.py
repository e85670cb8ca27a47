"""Publishing one claimed post to its platforms, concurrently.

Publishing starts by checking the lease's fence and reading the post, the
user's credentials and media; `publish_started_at` is the instant it runs,
and the post can no longer be cancelled. Each platform then passes its own
point of no return (`publishing`, one more attempt) once a call slot is
free, right before its call, so a crash while calls wait for slots leaves
those platforms pending rather than unknown. Each answer is recorded under
the same fence, the last one together with the post's final status; a retry
after a transient failure goes back through `pending`. One platform's
failure, or a bug in its adapter, never stops the others.

All these writes go through the publisher's `Writer`, which commits what
is queued together; the platform calls go to its `Couriers` when the
scheduler has some, else they are made in this process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from syndic import plans
from syndic.db.repo import publishing
from syndic.platforms.base import (
    Adapter,
    Draft,
    Media,
    PermanentError,
    PlatformError,
    Receipt,
)
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
        draft = _draft(post.started, platform, attached)
        attempt = todo.attempts

        while True:
            attempt += 1
            started = time.perf_counter()
            outcome = await self._attempt(post, todo, adapter, draft, credentials)

            if outcome is None:
                log.warning("delivery_lease_lost", extra=context)
                return None
            if isinstance(outcome, Receipt):
                log.info(
                    "delivery_published",
                    extra={
                        **context,
                        "attempt": attempt,
                        "elapsed_ms": _since(started),
                        "remote_id": outcome.remote_id,
                    },
                )
                return await self._answer(post, todo, "published", receipt=outcome)
            if not isinstance(outcome, PlatformError):  # did the platform act?
                lost = isinstance(outcome, CourierLost)
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

            decision = self.policy.decide(attempt, outcome)
            log.warning(
                "platform_call_failed",
                extra={
                    **context,
                    "attempt": attempt,
                    "code": outcome.code,
                    "elapsed_ms": _since(started),
                    "retry": not isinstance(decision, GiveUp),
                },
            )
            if isinstance(decision, GiveUp):
                return await self._answer(
                    post, todo, "failed", code=outcome.code, error=decision.reason
                )
            await self._defer(post, todo, outcome)
            await self._sleep(decision.delay)

    async def _attempt(
        self,
        post: _Run,
        todo: publishing.Todo,
        adapter: Adapter | None,
        draft: Draft,
        credentials: Mapping[str, Any] | None,
    ) -> Receipt | Exception | None:
        """One call, made under this platform's point of no return, passed
        once a call slot is free: a crash while waiting for one leaves the
        platform pending, not unknown. The receipt, or what went wrong; None
        if the lease was lost."""
        async with self._calls:
            if not await self._begin(post, todo):
                return None
            if adapter is None or credentials is None:
                return PermanentError(
                    f"no {todo.platform} account is connected",
                    code="account.not_connected",
                )
            try:
                if self.couriers is not None:
                    return await self.couriers.publish(
                        todo.platform, draft, credentials
                    )
                return await adapter.publish(draft, credentials)
            except (PlatformError, CourierLost) as exc:
                return exc
            except Exception as exc:  # an adapter bug: whether it acted is unknown
                log.exception(
                    "adapter_crashed",
                    extra={"post_id": post.id, "platform": todo.platform},
                )
                return exc

    async def _begin(self, post: _Run, todo: publishing.Todo) -> bool:
        """This platform's point of no return: `publishing`, one more attempt."""

        async def begin(round_: Round) -> bool:
            return await publishing.begin(
                round_.conn,
                owner=self.owner,
                hold=post.started.hold,
                delivery_id=todo.delivery_id,
                now=round_.now,
            )

        return await self.writer.write(begin)

    async def _defer(
        self, post: _Run, todo: publishing.Todo, exc: PlatformError
    ) -> None:
        """Back to pending after a transient failure the platform did not act on."""

        async def defer(round_: Round) -> bool:
            return await publishing.defer(
                round_.conn,
                owner=self.owner,
                hold=post.started.hold,
                delivery_id=todo.delivery_id,
                error_code=exc.code,
                error=exc.message,
            )

        await self.writer.write(defer)

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
