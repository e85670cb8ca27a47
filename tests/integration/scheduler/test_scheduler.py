"""The scheduler end to end over a real database, with scripted platforms."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support.fakes import FakeAdapter

from syndic import clock, errors
from syndic.db.kept import KeptConnection
from syndic.db.models import Post, User
from syndic.db.repo import leases, publishing, quotas, users
from syndic.db.repo import posts as post_rows
from syndic.platforms.base import CredentialsRejected, Receipt, TransientError
from syndic.runtime import Runtime
from syndic.scheduler.couriers import CourierLost
from syndic.scheduler.loop import Scheduler
from syndic.scheduler.retry import RetryPolicy
from syndic.services import periods, posts

FAST_RETRY = RetryPolicy(max_attempts=3, base=0.01, cap=0.02)


async def make_user(rt: Runtime, tier: str = "max") -> User:
    async with rt.db.transaction() as session:
        return await users.create(
            session,
            email=f"{tier}-{clock.new_id('u')}@example.test",
            tier=tier,
            is_admin=False,
            now=clock.now(),
        )


def in_(seconds: float) -> str:
    return (clock.now() + timedelta(seconds=seconds)).isoformat()


async def wait_for_status(
    rt: Runtime, post_id: str, *statuses: str, within: float = 10
) -> post_rows.PostView:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with rt.db.transaction() as session:
            view = await post_rows.view(session, post_id)
        assert view is not None
        if view.post.status in statuses:
            return view
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"post stayed {view.post.status}")
        await asyncio.sleep(0.05)


async def start(rt: Runtime, tick: float = 60) -> Scheduler:
    rt.scheduler = Scheduler(rt, tick=tick, policy=FAST_RETRY)
    await rt.scheduler.start()
    return rt.scheduler


def fake(rt: Runtime, name: str) -> FakeAdapter:
    adapter = rt.adapters[name]
    assert isinstance(adapter, FakeAdapter)
    return adapter


async def test_a_max_post_is_published_at_its_instant_never_before(rt: Runtime) -> None:
    user = await make_user(rt)
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(
            rt,
            user,
            posts.PostRequest("hello", ["discord", "telegram"], scheduled_at=in_(0.5)),
        )
        view = await wait_for_status(rt, post.id, "published")
    finally:
        await scheduler.stop()

    assert view.post.publish_started_at is not None
    assert view.post.publish_started_at >= view.post.release_at
    assert {d.platform: d.status for d in view.deliveries} == {
        "discord": "published",
        "telegram": "published",
    }
    assert all(d.remote_id and d.url for d in view.deliveries)
    assert len(fake(rt, "discord").calls) == 1
    assert fake(rt, "discord").calls[0].idempotency_key == f"{post.id}:discord"


async def test_a_post_accepted_inside_the_window_is_claimed_at_once(
    rt: Runtime,
) -> None:
    user = await make_user(rt)
    scheduler = await start(rt, tick=3600)
    await asyncio.sleep(0.1)  # the first tick has run; the next is an hour away
    try:
        post, _ = await posts.schedule(
            rt, user, posts.PostRequest("now", ["discord"], scheduled_at=in_(0.3))
        )
        await wait_for_status(rt, post.id, "published", within=5)
    finally:
        await scheduler.stop()


async def test_only_the_failing_platform_is_retried(rt: Runtime) -> None:
    user = await make_user(rt)
    fake(rt, "telegram").fail(
        TransientError("busy", retry_after=0.01), TransientError("5xx")
    )
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(
            rt, user, posts.PostRequest("retry", ["discord", "telegram"])
        )
        view = await wait_for_status(rt, post.id, "published")
    finally:
        await scheduler.stop()

    attempts = {d.platform: d.attempts for d in view.deliveries}
    assert attempts == {"discord": 1, "telegram": 3}
    assert len(fake(rt, "discord").calls) == 1


async def test_permanent_failures_are_not_retried_and_the_post_is_partially_failed(
    rt: Runtime,
) -> None:
    user = await make_user(rt)
    fake(rt, "telegram").fail(CredentialsRejected("Unauthorized"))
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(
            rt, user, posts.PostRequest("perm", ["discord", "telegram"])
        )
        view = await wait_for_status(rt, post.id, "partially_failed")
    finally:
        await scheduler.stop()

    telegram = next(d for d in view.deliveries if d.platform == "telegram")
    assert (telegram.status, telegram.attempts, telegram.error_code) == (
        "failed",
        1,
        "credentials_rejected",
    )


async def test_transient_failures_give_up_after_the_limit(rt: Runtime) -> None:
    user = await make_user(rt)
    fake(rt, "discord").fail(*(TransientError("down") for _ in range(5)))
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(rt, user, posts.PostRequest("down", ["discord"]))
        view = await wait_for_status(rt, post.id, "failed")
    finally:
        await scheduler.stop()

    assert view.deliveries[0].attempts == 3
    assert "gave up after 3 attempts" in (view.deliveries[0].error or "")


async def test_cancel_before_release_drops_the_post_and_refunds_the_quota(
    rt: Runtime,
) -> None:
    user = await make_user(rt, tier="free")
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(
            rt, user, posts.PostRequest("soon", ["discord"], scheduled_at=in_(0.5))
        )
        await posts.cancel(rt, user, post.id)
        await asyncio.sleep(0.3)
    finally:
        await scheduler.stop()

    period, _ = periods.current(user, clock.now())
    async with rt.db.transaction() as session:
        assert await quotas.used(session, user.id, period) == (0, 0)
        view = await post_rows.view(session, post.id)
    assert view is not None
    assert view.post.status == "cancelled"
    assert fake(rt, "discord").calls == []


async def test_cancel_after_the_point_of_no_return_is_a_conflict(rt: Runtime) -> None:
    user = await make_user(rt)
    fake(rt, "discord").delay = 0.5
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(rt, user, posts.PostRequest("late", ["discord"]))
        await asyncio.wait_for(fake(rt, "discord").entered.wait(), 5)
        with pytest.raises(errors.PostNotCancellable):
            await posts.cancel(rt, user, post.id)
        await wait_for_status(rt, post.id, "published")
    finally:
        await scheduler.stop()


async def test_a_free_post_waits_for_the_top_of_the_hour(rt: Runtime) -> None:
    user = await make_user(rt, tier="free")
    post, _ = await posts.schedule(
        rt, user, posts.PostRequest("hourly", ["discord"], scheduled_at=in_(5))
    )

    assert post.release_at.minute == 0
    assert post.release_at.second == 0
    assert post.release_at >= post.scheduled_at


async def test_graceful_stop_hands_back_leases_not_yet_started(rt: Runtime) -> None:
    user = await make_user(rt)
    scheduler = await start(rt)
    post, _ = await posts.schedule(
        rt, user, posts.PostRequest("later", ["discord"], scheduled_at=in_(30))
    )
    await scheduler.tick()
    await scheduler.stop()

    async with rt.db.transaction() as session:
        view = await post_rows.view(session, post.id)
    assert view is not None
    assert (view.post.status, view.post.lease_owner) == ("pending", None)


async def test_a_failed_status_write_after_the_platform_answered_does_not_post_twice(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(rt)
    real = publishing.answer
    failures = iter([errors.ServiceUnavailable("database hiccup")])

    async def flaky(*args: object, **kwargs: object) -> bool:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publishing, "answer", flaky)
    scheduler = await start(rt)
    try:
        post, _ = await posts.schedule(rt, user, posts.PostRequest("once", ["discord"]))
        view = await wait_for_status(rt, post.id, "published")
    finally:
        await scheduler.stop()

    assert len(fake(rt, "discord").calls) == 1
    assert view.deliveries[0].remote_id == "discord-1"


async def test_cancel_racing_the_point_of_no_return_has_one_winner(rt: Runtime) -> None:
    user = await make_user(rt)
    outcomes = []
    for _ in range(20):
        post, _ = await posts.schedule(
            rt, user, posts.PostRequest("race", ["discord"], scheduled_at=in_(60))
        )
        async with rt.db.transaction() as session:
            claim = await leases.claim_one(
                session,
                post_id=post.id,
                owner="me",
                lease_until=clock.now() + timedelta(seconds=60),
                now=clock.now(),
            )
        assert claim is not None

        async def start_publishing(claim: leases.Claim = claim) -> bool:
            kept = KeptConnection(rt.db)
            try:
                async with kept.transaction() as conn:
                    started = await publishing.start(
                        conn,
                        owner="me",
                        holds=[publishing.Hold(claim.post_id, claim.fence)],
                        now=clock.now(),
                    )
            finally:
                await kept.close()
            return bool(started)

        async def cancel(post: Post = post) -> bool:
            try:
                await posts.cancel(rt, user, post.id)
            except errors.PostNotCancellable:
                return False
            return True

        started, cancelled = await asyncio.gather(start_publishing(), cancel())
        outcomes.append((started, cancelled))

    assert all(started != cancelled for started, cancelled in outcomes)


async def test_a_call_whose_courier_died_is_unknown_and_not_resent(
    rt: Runtime,
) -> None:
    class DyingCouriers:
        calls = 0

        async def publish(self, *_: object) -> Receipt:
            self.calls += 1
            raise CourierLost("the courier stopped during the call")

        async def close(self) -> None:
            pass

    user = await make_user(rt)
    scheduler = await start(rt)
    couriers = DyingCouriers()
    scheduler.publisher.couriers = couriers  # type: ignore[assignment]
    try:
        post, _ = await posts.schedule(rt, user, posts.PostRequest("lost", ["discord"]))
        view = await wait_for_status(rt, post.id, "failed")
    finally:
        await scheduler.stop()

    [delivery] = view.deliveries
    assert (delivery.status, delivery.error_code) == ("unknown", "courier_lost")
    assert couriers.calls == 1
