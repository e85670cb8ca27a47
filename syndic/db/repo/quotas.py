"""Monthly usage: consumed by one atomic conditional upsert, refunded on cancel.

The check and the increment are a single statement,

    INSERT INTO usage ... VALUES (..., 1, ...)
    ON CONFLICT (user_id, period_start) DO UPDATE
        SET posts_used = usage.posts_used + 1, ...
        WHERE usage.posts_used < :limit
    RETURNING posts_used

so concurrent requests for the last slot cannot all pass: PostgreSQL
re-checks the WHERE against the row a blocked writer waited for, and SQLite
runs one writer at a time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import Usage
from syndic.db.repo import _dialect


async def consume(
    session: AsyncSession,
    *,
    user_id: str,
    period_start: datetime,
    image: bool,
    post_limit: int | None,
    image_limit: int | None,
) -> bool:
    """Count one post (and one image post if `image`); False if over a limit."""
    statement = _dialect.insert(session, Usage).values(
        user_id=user_id,
        period_start=period_start,
        posts_used=1,
        image_posts_used=int(image),
    )

    guard: ColumnElement[bool] = true()
    if post_limit is not None:
        guard = and_(guard, Usage.posts_used < post_limit)
    if image and image_limit is not None:
        guard = and_(guard, Usage.image_posts_used < image_limit)

    statement = statement.on_conflict_do_update(
        index_elements=[Usage.user_id, Usage.period_start],
        set_={
            "posts_used": Usage.posts_used + 1,
            "image_posts_used": Usage.image_posts_used + int(image),
        },
        where=guard,
    ).returning(Usage.posts_used)
    return (await session.execute(statement)).first() is not None


async def refund(
    session: AsyncSession, *, user_id: str, period_start: datetime, image: bool
) -> None:
    await session.execute(
        update(Usage)
        .where(Usage.user_id == user_id, Usage.period_start == period_start)
        .values(
            posts_used=Usage.posts_used - 1,
            image_posts_used=Usage.image_posts_used - int(image),
        )
    )


async def used(
    session: AsyncSession, user_id: str, period_start: datetime
) -> tuple[int, int]:
    """(posts, image posts) counted for the period starting `period_start`."""
    query = select(Usage.posts_used, Usage.image_posts_used).where(
        Usage.user_id == user_id, Usage.period_start == period_start
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else (0, 0)


async def reset(session: AsyncSession, user_id: str, period_start: datetime) -> None:
    await session.execute(
        update(Usage)
        .where(Usage.user_id == user_id, Usage.period_start == period_start)
        .values(posts_used=0, image_posts_used=0)
    )
