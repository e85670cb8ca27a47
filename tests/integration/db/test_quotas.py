"""The quota is one atomic conditional update, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from syndic import clock
from syndic.db.engine import Database
from syndic.db.repo import quotas, users

PERIOD = datetime(2026, 12, 1, tzinfo=UTC)


async def _user(db: Database) -> str:
    async with db.transaction() as session:
        user = await users.create(
            session,
            email="q@example.test",
            tier="free",
            is_admin=False,
            now=clock.now(),
        )
    return user.id


async def _consume(
    db: Database, user_id: str, *, image: bool = False, limit: int = 100
) -> bool:
    async with db.transaction() as session:
        return await quotas.consume(
            session,
            user_id=user_id,
            period_start=PERIOD,
            image=image,
            post_limit=limit,
            image_limit=10,
        )


async def test_fifty_concurrent_requests_for_the_last_slot_give_one_success(
    db: Database,
) -> None:
    user_id = await _user(db)
    for _ in range(99):
        assert await _consume(db, user_id)

    results = await asyncio.gather(*(_consume(db, user_id) for _ in range(50)))

    assert results.count(True) == 1
    async with db.transaction() as session:
        assert await quotas.used(session, user_id, PERIOD) == (100, 0)


async def test_image_limit_stops_image_posts_but_not_text_posts(db: Database) -> None:
    user_id = await _user(db)
    for _ in range(10):
        assert await _consume(db, user_id, image=True)

    assert not await _consume(db, user_id, image=True)
    assert await _consume(db, user_id, image=False)


async def test_refund_gives_the_slot_back(db: Database) -> None:
    user_id = await _user(db)
    assert await _consume(db, user_id, limit=1)
    assert not await _consume(db, user_id, limit=1)

    async with db.transaction() as session:
        await quotas.refund(session, user_id=user_id, period_start=PERIOD, image=False)

    assert await _consume(db, user_id, limit=1)
