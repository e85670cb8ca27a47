"""Leases: one holder at a time, fenced writes, lapsed leases taken back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from syndic import clock
from syndic.db.engine import Database
from syndic.db.kept import CoreConnection, KeptConnection
from syndic.db.models import Post
from syndic.db.repo import leases, posts, publishing, users

T = TypeVar("T")


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


async def in_transaction(
    db: Database, work: Callable[[CoreConnection], Awaitable[T]]
) -> T:
    """`work` in one transaction on a kept connection, as the publisher writes."""
    kept = KeptConnection(db)
    try:
        async with kept.transaction() as conn:
            return await work(conn)
    finally:
        await kept.close()


async def start(
    db: Database, owner: str, *held: leases.Claim
) -> dict[str, publishing.Started]:
    return await in_transaction(
        db,
        lambda conn: publishing.start(
            conn,
            owner=owner,
            holds=[publishing.Hold(c.post_id, c.fence) for c in held],
            now=clock.now(),
        ),
    )


async def test_writes_under_an_old_fence_change_nothing(db: Database) -> None:
    await pending_post(db)
    [old] = await claim(db, "a", lease=1)
    await claim(db, "b", now_shift=5)

    assert await start(db, "a", old) == {}


async def test_one_point_of_no_return_starts_every_post_still_held(
    db: Database,
) -> None:
    ours = [await pending_post(db) for _ in range(3)]
    lost = await pending_post(db)
    held = await claim(db, "a")
    async with db.transaction() as session:
        await posts.cancel(
            session,
            lost,
            (await posts.view(session, lost)).post.user_id,  # type: ignore[union-attr]
            clock.now(),
        )

    started = await start(db, "a", *held)

    assert sorted(started) == sorted(ours)
    for post in started.values():
        assert [(t.platform, t.attempts) for t in post.todo] == [("bluesky", 0)]
        assert post.started_at >= post.release_at


async def test_a_call_in_flight_when_the_lease_lapsed_becomes_unknown_and_is_not_resent(
    db: Database,
) -> None:
    post_id = await pending_post(db)
    [old] = await claim(db, "a", lease=1)
    [delivery] = (await start(db, "a", old))[post_id].todo
    assert await begin(db, "a", old, delivery) is True
    # "a" dies here, after the platform call was sent and before its answer was recorded

    [new] = await claim(db, "b", now_shift=5)
    restarted = (await start(db, "b", new))[post_id]
    assert (restarted.todo, restarted.settled) == ([], ["unknown"])

    async def late_answer_then_close(conn: CoreConnection) -> tuple[bool, bool]:
        late = await publishing.answer(
            conn,
            owner="a",
            hold=publishing.Hold(post_id, old.fence),
            delivery_id=delivery.delivery_id,
            status="published",
            now=clock.now(),
            remote_id="at://late",
        )
        closed = await publishing.close(
            conn,
            owner="b",
            hold=publishing.Hold(post_id, new.fence),
            status="failed",
            now=clock.now(),
        )
        return late, closed

    assert await in_transaction(db, late_answer_then_close) == (False, True)
    async with db.transaction() as session:
        assert (await posts.view(session, post_id)).post.status == "failed"  # type: ignore[union-attr]
        [row] = await posts.deliveries(session, post_id)
    assert (row.status, row.error_code, row.attempts) == (
        "unknown",
        "outcome_unknown",
        1,
    )


async def test_a_platform_still_waiting_for_its_call_is_called_by_the_next_holder(
    db: Database,
) -> None:
    post_id = await pending_post(db)
    [old] = await claim(db, "a", lease=1)
    [waiting] = (await start(db, "a", old))[post_id].todo
    # "a" dies here: publishing had started, but this call had not

    [new] = await claim(db, "b", now_shift=5)
    restarted = (await start(db, "b", new))[post_id]

    assert ([t.delivery_id for t in restarted.todo], restarted.settled) == (
        [waiting.delivery_id],
        [],
    )
    assert await begin(db, "b", new, waiting) is True
    assert await begin(db, "a", old, waiting) is False  # fenced out


async def begin(
    db: Database, owner: str, held: leases.Claim, todo: publishing.Todo
) -> bool:
    return await in_transaction(
        db,
        lambda conn: publishing.begin(
            conn,
            owner=owner,
            hold=publishing.Hold(held.post_id, held.fence),
            delivery_id=todo.delivery_id,
            now=clock.now(),
        ),
    )


async def test_cancel_and_point_of_no_return_exclude_each_other(db: Database) -> None:
    post_id = await pending_post(db)
    [held] = await claim(db, "a")
    async with db.transaction() as session:
        user_id = (await posts.view(session, post_id)).post.user_id  # type: ignore[union-attr]

    assert await start(db, "a", held)
    async with db.transaction() as session:
        assert await posts.cancel(session, post_id, user_id, clock.now()) is None


async def test_release_hands_back_only_posts_not_yet_started(db: Database) -> None:
    waiting = await pending_post(db, due_in=30)
    started = await pending_post(db)
    claims = {c.post_id: c for c in await claim(db, "a")}
    await start(db, "a", claims[started])

    async with db.transaction() as session:
        assert await leases.release(session, owner="a", now=clock.now()) == 1
        assert (await posts.view(session, waiting)).post.status == "pending"  # type: ignore[union-attr]
        assert (await posts.view(session, started)).post.status == "dispatched"  # type: ignore[union-attr]


async def test_a_post_is_not_closed_while_a_platform_is_open(db: Database) -> None:
    post_id = await pending_post(db)
    [held] = await claim(db, "a")
    await start(db, "a", held)

    async def close(conn: CoreConnection) -> bool:
        return await publishing.close(
            conn,
            owner="a",
            hold=publishing.Hold(post_id, held.fence),
            status="published",
            now=clock.now(),
        )

    assert await in_transaction(db, close) is False


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
