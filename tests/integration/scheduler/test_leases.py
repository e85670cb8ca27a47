"""Leases: one holder at a time, fenced writes, lapsed leases taken back."""

from __future__ import annotations

from datetime import timedelta

from syndic import clock
from syndic.db.engine import Database
from syndic.db.models import Post
from syndic.db.repo import leases, posts, users


async def pending_post(db: Database, *, due_in: float = 0.0) -> str:
    now = clock.now()
    async with db.transaction() as session:
        user = await users.create(
            session,
            email=f"{clock.new_id('u')}@example.test",
            tier="max",
            is_admin=False,
            now=now,
        )
        post = Post(
            id=clock.new_id("pst"),
            user_id=user.id,
            status="pending",
            text="hello",
            platforms=["bluesky"],
            options={},
            media=[],
            tier="max",
            scheduled_at=now + timedelta(seconds=due_in),
            release_at=now + timedelta(seconds=due_in),
            created_at=now,
            updated_at=now,
            fence=0,
        )
        await posts.create(session, post)
    return post.id


async def claim(
    db: Database, owner: str, *, lease: float = 60, now_shift: float = 0
) -> list[leases.Claim]:
    now = clock.now() + timedelta(seconds=now_shift)
    async with db.transaction() as session:
        return await leases.claim_due(
            session,
            owner=owner,
            horizon=now + timedelta(seconds=61),
            lease_until=now + timedelta(seconds=lease),
            now=now,
            limit=100,
        )


async def test_a_due_post_is_claimed_once(db: Database) -> None:
    post_id = await pending_post(db)

    first = await claim(db, "a")
    second = await claim(db, "b")

    assert [c.post_id for c in first] == [post_id]
    assert second == []


async def test_a_lapsed_lease_is_taken_back_with_a_higher_fence(db: Database) -> None:
    post_id = await pending_post(db)
    [first] = await claim(db, "a", lease=1)

    [second] = await claim(db, "b", now_shift=5)

    assert second.post_id == post_id
    assert second.fence == first.fence + 1


async def test_writes_under_an_old_fence_change_nothing(db: Database) -> None:
    post_id = await pending_post(db)
    [old] = await claim(db, "a", lease=1)
    await claim(db, "b", now_shift=5)

    async with db.transaction() as session:
        started = await leases.start_publishing(
            session, post_id=post_id, owner="a", fence=old.fence, now=clock.now()
        )
    assert started is None


async def test_a_call_in_flight_when_the_lease_lapsed_becomes_unknown_and_is_not_resent(
    db: Database,
) -> None:
    post_id = await pending_post(db)
    [old] = await claim(db, "a", lease=1)
    async with db.transaction() as session:
        started = await leases.start_publishing(
            session, post_id=post_id, owner="a", fence=old.fence, now=clock.now()
        )
        assert started is not None
        _, [delivery] = started
        assert (delivery.status, delivery.attempts) == ("publishing", 1)
    # "a" dies here, after the platform call was sent and before its answer was recorded

    [new] = await claim(db, "b", now_shift=5)
    async with db.transaction() as session:
        restarted = await leases.start_publishing(
            session, post_id=post_id, owner="b", fence=new.fence, now=clock.now()
        )
    assert restarted is not None
    _, todo = restarted
    assert todo == []

    async with db.transaction() as session:
        late = await leases.record_delivery(
            session,
            delivery_id=delivery.id,
            post_id=post_id,
            owner="a",
            fence=old.fence,
            status="published",
            now=clock.now(),
            remote_id="at://late",
        )
        assert late is False
        assert (
            await leases.finish(
                session, post_id=post_id, owner="b", fence=new.fence, now=clock.now()
            )
            == "failed"
        )
        [row] = await posts.deliveries(session, post_id)
    assert (row.status, row.error_code, row.attempts) == (
        "unknown",
        "outcome_unknown",
        1,
    )


async def test_cancel_and_point_of_no_return_exclude_each_other(db: Database) -> None:
    post_id = await pending_post(db)
    [held] = await claim(db, "a")
    async with db.transaction() as session:
        user_id = (await posts.view(session, post_id)).post.user_id  # type: ignore[union-attr]

    async with db.transaction() as session:
        assert await leases.start_publishing(
            session, post_id=post_id, owner="a", fence=held.fence, now=clock.now()
        )
    async with db.transaction() as session:
        assert await posts.cancel(session, post_id, user_id, clock.now()) is None


async def test_release_hands_back_only_posts_not_yet_started(db: Database) -> None:
    waiting = await pending_post(db, due_in=30)
    started = await pending_post(db)
    claims = {c.post_id: c for c in await claim(db, "a")}
    async with db.transaction() as session:
        await leases.start_publishing(
            session,
            post_id=started,
            owner="a",
            fence=claims[started].fence,
            now=clock.now(),
        )

    async with db.transaction() as session:
        assert await leases.release(session, owner="a", now=clock.now()) == 1
        assert (await posts.view(session, waiting)).post.status == "pending"  # type: ignore[union-attr]
        assert (await posts.view(session, started)).post.status == "dispatched"  # type: ignore[union-attr]


async def test_a_banned_users_posts_wait_until_the_ban_is_lifted(db: Database) -> None:
    post_id = await pending_post(db)
    async with db.transaction() as session:
        user_id = (await posts.view(session, post_id)).post.user_id  # type: ignore[union-attr]
        await users.ban(
            session, user_id, reason="spam", by="admin:test", now=clock.now()
        )

    assert await claim(db, "a") == []

    async with db.transaction() as session:
        await users.unban(session, user_id)
    assert [c.post_id for c in await claim(db, "a")] == [post_id]
