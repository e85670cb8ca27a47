"""Publishing one claimed post to its platforms, concurrently.

The post's point of no return is one transaction: it checks the lease's
fence, marks every platform still to do `publishing` (one more attempt
each), and reads the user's credentials and media. Each platform's answer is
then recorded under the same fence; a retry after a transient failure goes
back through `pending` and its own point of no return. One platform's
failure, or a bug in its adapter, never stops the others.

Every write here is retried while the database is briefly unavailable: a
platform's answer, once received, must not be lost to a busy database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from syndic import clock, errors, plans
from syndic.db.models import Delivery, Post
from syndic.db.repo import accounts as account_rows
from syndic.db.repo import leases
from syndic.db.repo import media as media_rows
from syndic.platforms.base import Draft, Media, PlatformError, Receipt
from syndic.runtime import Runtime
from syndic.scheduler.retry import GiveUp, RetryPolicy
from syndic.services import accounts, media

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

WRITE_ATTEMPTS = 5


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
        was no longer ours (cancelled, taken over, or its owner banned)."""
        now = clock.now()

        async def start(session: AsyncSession) -> _Start | None:
            started = await leases.start_publishing(
                session, post_id=post_id, owner=self.owner, fence=fence, now=now
            )
            if started is None:
                return None
            post, todo = started
            stored = await account_rows.of_user(session, post.user_id)
            files = await media_rows.of_user(session, post.user_id, post.media)
            return _Start(post, todo, {a.platform: a.ciphertext for a in stored}, files)

        begun = await self._write(start)
        if begun is None:
            log.info("post_dropped", extra={"post_id": post_id, "fence": fence})
            return None
        post = begun.post
        log.info(
            "post_publishing",
            extra={
                "post_id": post_id,
                "platforms": [d.platform for d in begun.todo],
                "lateness_ms": round((now - post.release_at).total_seconds() * 1000, 3),
            },
        )

        attached = media.for_adapters(begun.files)
        await asyncio.gather(
            *(
                self._deliver(post, fence, d, attached, begun.credentials(self.rt, d))
                for d in begun.todo
            )
        )
        return await self._finish(post, fence)

    async def _deliver(
        self,
        post: Post,
        fence: int,
        delivery: Delivery,
        attached: tuple[Media, ...],
        credentials: Mapping[str, Any] | None,
    ) -> None:
        platform = delivery.platform
        context = {"post_id": post.id, "platform": platform}
        adapter = self.rt.adapters.get(platform)
        draft = _draft(post, platform, attached)
        attempt = delivery.attempts  # the point of no return counted this one

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

        while True:
            started = time.perf_counter()
            try:
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
                if not await self._begin(post, fence, delivery):
                    log.warning("delivery_lease_lost", extra=context)
                    return
                attempt += 1
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

            log.info(
                "platform_call",
                extra={
                    **context,
                    "attempt": attempt,
                    "elapsed_ms": _since(started),
                    "remote_id": receipt.remote_id,
                },
            )
            await self._record(post, fence, delivery, "published", receipt=receipt)
            return

    async def _begin(self, post: Post, fence: int, delivery: Delivery) -> bool:
        async def begin(session: AsyncSession) -> bool:
            return await leases.begin_delivery(
                session,
                delivery_id=delivery.id,
                post_id=post.id,
                owner=self.owner,
                fence=fence,
                now=clock.now(),
            )

        return await self._write(begin)

    async def _defer(
        self, post: Post, fence: int, delivery: Delivery, exc: PlatformError
    ) -> None:
        async def defer(session: AsyncSession) -> bool:
            return await leases.defer_delivery(
                session,
                delivery_id=delivery.id,
                post_id=post.id,
                owner=self.owner,
                fence=fence,
                error_code=exc.code,
                error=exc.message,
            )

        await self._write(defer)

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

        async def record(session: AsyncSession) -> bool:
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
            return recorded

        if not await self._write(record):
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

    async def _finish(self, post: Post, fence: int) -> str | None:
        async def finish(session: AsyncSession) -> str | None:
            status = await leases.finish(
                session, post_id=post.id, owner=self.owner, fence=fence, now=clock.now()
            )
            if status is not None and _live(post):
                event = {"type": "post", "post_id": post.id, "status": status}
                await self.rt.events.announce(session, post.user_id, event)
            return status

        status = await self._write(finish)
        if status is not None:
            log.info("post_finished", extra={"post_id": post.id, "status": status})
        return status

    async def _write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a transaction, again while the database is unavailable."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self.rt.db.transaction() as session:
                    return await work(session)
            except errors.ServiceUnavailable:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.warning("publish_write_retry", extra={"attempt": attempt})
                await self._sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")


class _Start:
    """What the point of no return read: the post, its work, its secrets."""

    def __init__(
        self,
        post: Post,
        todo: list[Delivery],
        sealed: dict[str, bytes],
        files: list[Any],
    ) -> None:
        self.post = post
        self.todo = todo
        self.sealed = sealed
        self.files = files

    def credentials(self, rt: Runtime, delivery: Delivery) -> Mapping[str, Any] | None:
        sealed = self.sealed.get(delivery.platform)
        return accounts.unseal(rt, self.post.user_id, delivery.platform, sealed)


def _live(post: Post) -> bool:
    return plans.plan_for(post.tier).live_results


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _draft(post: Post, platform: str, attached: tuple[Media, ...]) -> Draft:
    texts: dict[str, str] = post.options.get("texts", {})
    per_platform: dict[str, Any] = post.options.get("per_platform", {})
    return Draft(
        text=texts.get(platform, post.text),
        options=per_platform.get(platform, {}),
        media=attached,
        idempotency_key=f"{post.id}:{platform}",
    )
