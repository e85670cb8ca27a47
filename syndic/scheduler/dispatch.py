"""Publishing one claimed post to its platforms, concurrently.

Each platform goes through its own point of no return (its delivery row set
to `publishing` under the lease's fence) right before the call, and its
answer is recorded under the same fence. One platform's failure, or a bug
in its adapter, never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from syndic import clock, errors, plans
from syndic.db.models import Delivery, Post
from syndic.db.repo import leases
from syndic.db.repo import media as media_rows
from syndic.platforms.base import Draft, Media, PlatformError, Receipt
from syndic.runtime import Runtime
from syndic.scheduler.retry import GiveUp, RetryPolicy
from syndic.services import accounts, media

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

RECORD_ATTEMPTS = 5


class Publisher:
    def __init__(
        self, rt: Runtime, owner: str, policy: RetryPolicy, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.rt = rt
        self.owner = owner
        self.policy = policy
        self._sleep = sleep

    async def run(self, post_id: str, fence: int) -> str | None:
        """Publish the post held under `fence`; its final status, or None if it
        was no longer ours (cancelled, or taken over)."""
        async with self.rt.db.transaction() as session:
            started = await leases.start_publishing(
                session, post_id=post_id, owner=self.owner, fence=fence, now=clock.now()
            )
        if started is None:
            log.info("post_dropped", extra={"post_id": post_id, "fence": fence})
            return None
        post, todo = started
        attached: tuple[Media, ...] = ()
        if post.media and todo:
            async with self.rt.db.transaction() as session:
                files = await media_rows.of_user(session, post.user_id, post.media)
            attached = media.for_adapters(files)
        lateness_ms = (clock.now() - post.release_at).total_seconds() * 1000
        log.info(
            "post_publishing",
            extra={
                "post_id": post_id,
                "platforms": [d.platform for d in todo],
                "lateness_ms": round(lateness_ms, 3),
            },
        )

        await asyncio.gather(*(self._deliver(post, fence, d, attached) for d in todo))

        async with self.rt.db.transaction() as session:
            status = await leases.finish(
                session, post_id=post_id, owner=self.owner, fence=fence, now=clock.now()
            )
            if status is not None and _live(post):
                event = {"type": "post", "post_id": post_id, "status": status}
                await self.rt.events.announce(session, post.user_id, event)
        if status is not None:
            log.info("post_finished", extra={"post_id": post_id, "status": status})
        return status

    async def _deliver(
        self, post: Post, fence: int, delivery: Delivery, attached: tuple[Media, ...]
    ) -> None:
        platform = delivery.platform
        context = {"post_id": post.id, "platform": platform}
        adapter = self.rt.adapters.get(platform)
        credentials = await accounts.resolve(self.rt, post.user_id, platform)
        draft = _draft(post, platform, attached)
        attempt = delivery.attempts

        while True:
            if not await self._begin(post, fence, delivery):
                log.warning("delivery_lease_lost", extra=context)
                return
            attempt += 1
            if adapter is None or credentials is None:
                await self._record(
                    post,
                    fence,
                    delivery,
                    "failed",
                    code="account.not_connected",
                    error=f"no {platform} account is connected",
                )
                return

            started = time.perf_counter()
            try:
                receipt = await adapter.publish(draft, credentials)
            except PlatformError as exc:
                elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
                decision = self.policy.decide(attempt, exc)
                log.warning(
                    "platform_call_failed",
                    extra={
                        **context,
                        "attempt": attempt,
                        "code": exc.code,
                        "elapsed_ms": elapsed_ms,
                        "retry": not isinstance(decision, GiveUp),
                    },
                )
                if isinstance(decision, GiveUp):
                    await self._record(
                        post,
                        fence,
                        delivery,
                        "failed",
                        code=exc.code,
                        error=decision.reason,
                    )
                    return
                await self._defer(post, fence, delivery, exc)
                await self._sleep(decision.delay)
                continue
            except Exception:  # an adapter bug: whether the platform acted is unknown
                log.exception("adapter_crashed", extra=context)
                await self._record(
                    post,
                    fence,
                    delivery,
                    "unknown",
                    code="adapter_crashed",
                    error="the adapter failed unexpectedly; "
                    "check the account before posting again",
                )
                return

            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "platform_call",
                extra={
                    **context,
                    "attempt": attempt,
                    "elapsed_ms": elapsed_ms,
                    "remote_id": receipt.remote_id,
                },
            )
            await self._record(post, fence, delivery, "published", receipt=receipt)
            return

    async def _begin(self, post: Post, fence: int, delivery: Delivery) -> bool:
        async with self.rt.db.transaction() as session:
            return await leases.begin_delivery(
                session,
                delivery_id=delivery.id,
                post_id=post.id,
                owner=self.owner,
                fence=fence,
                now=clock.now(),
            )

    async def _defer(
        self, post: Post, fence: int, delivery: Delivery, exc: PlatformError
    ) -> None:
        async with self.rt.db.transaction() as session:
            await leases.defer_delivery(
                session,
                delivery_id=delivery.id,
                post_id=post.id,
                owner=self.owner,
                fence=fence,
                error_code=exc.code,
                error=exc.message,
            )

    async def _record(
        self,
        post: Post,
        fence: int,
        delivery: Delivery,
        status: str,
        *,
        receipt: Receipt | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "type": "delivery",
            "post_id": post.id,
            "platform": delivery.platform,
            "status": status,
            "remote_id": receipt.remote_id if receipt else None,
            "url": receipt.url if receipt else None,
            "error": None if error is None else {"code": code, "message": error},
        }
        for attempt in range(RECORD_ATTEMPTS):
            try:
                async with self.rt.db.transaction() as session:
                    recorded = await leases.record_delivery(
                        session,
                        delivery_id=delivery.id,
                        post_id=post.id,
                        owner=self.owner,
                        fence=fence,
                        status=status,
                        now=clock.now(),
                        remote_id=event["remote_id"],
                        url=event["url"],
                        error_code=code,
                        error=error,
                    )
                    if recorded and _live(post):
                        await self.rt.events.announce(session, post.user_id, event)
                break
            except errors.ServiceUnavailable:
                # the platform has answered: keep its answer and try the
                # write again rather than lose it
                log.warning(
                    "delivery_record_retry",
                    extra={
                        "post_id": post.id,
                        "platform": delivery.platform,
                        "attempt": attempt + 1,
                    },
                )
                if attempt + 1 == RECORD_ATTEMPTS:
                    raise
                await self._sleep(0.2 * 2**attempt)

        if not recorded:
            # the lease was taken over while the call was in flight; the new
            # holder has marked this platform `unknown`
            log.warning(
                "delivery_result_fenced_out",
                extra={
                    "post_id": post.id,
                    "platform": delivery.platform,
                    "status": status,
                    "remote_id": event["remote_id"],
                },
            )


def _live(post: Post) -> bool:
    return plans.plan_for(post.tier).live_results


def _draft(post: Post, platform: str, attached: tuple[Media, ...]) -> Draft:
    texts: dict[str, str] = post.options.get("texts", {})
    per_platform: dict[str, Any] = post.options.get("per_platform", {})
    return Draft(
        text=texts.get(platform, post.text),
        options=per_platform.get(platform, {}),
        media=attached,
        idempotency_key=f"{post.id}:{platform}",
    )
