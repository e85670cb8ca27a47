"""Posts and their per-platform deliveries, as the API sees them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import Delivery, Post

CANCELLABLE = or_(
    Post.status == "pending",
    and_(Post.status == "dispatched", Post.publish_started_at.is_(None)),
)


@dataclass(frozen=True)
class PostView:
    post: Post
    deliveries: Sequence[Delivery]


async def create(session: AsyncSession, post: Post) -> Post:
    session.add(post)
    await session.flush()
    for platform in post.platforms:
        session.add(Delivery(post_id=post.id, platform=platform))
    await session.flush()
    return post


async def by_idempotency_key(
    session: AsyncSession, user_id: str, key: str
) -> Post | None:
    query = select(Post).where(Post.user_id == user_id, Post.idempotency_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def view(
    session: AsyncSession, post_id: str, user_id: str | None = None
) -> PostView | None:
    query = select(Post).where(Post.id == post_id)
    if user_id is not None:
        query = query.where(Post.user_id == user_id)
    post = (await session.execute(query)).scalar_one_or_none()
    if post is None:
        return None
    return PostView(post, await deliveries(session, post.id))


async def deliveries(session: AsyncSession, post_id: str) -> Sequence[Delivery]:
    query = select(Delivery).where(Delivery.post_id == post_id).order_by(Delivery.id)
    return (await session.execute(query)).scalars().all()


async def page(
    session: AsyncSession,
    user_id: str,
    *,
    status: str | None,
    before: str | None,
    limit: int,
) -> list[PostView]:
    """Newest first; `before` is the id of the last post of the previous page."""
    query = select(Post).where(Post.user_id == user_id)
    if status is not None:
        query = query.where(Post.status == status)
    if before is not None:
        query = query.where(Post.id < before)
    posts = (
        (await session.execute(query.order_by(Post.id.desc()).limit(limit)))
        .scalars()
        .all()
    )
    if not posts:
        return []

    rows = await session.execute(
        select(Delivery)
        .where(Delivery.post_id.in_([p.id for p in posts]))
        .order_by(Delivery.id)
    )
    by_post: dict[str, list[Delivery]] = {p.id: [] for p in posts}
    for delivery in rows.scalars():
        by_post[delivery.post_id].append(delivery)
    return [PostView(p, by_post[p.id]) for p in posts]


async def cancel(
    session: AsyncSession, post_id: str, user_id: str, now: datetime
) -> Post | None:
    """Cancel the post if it has not reached its point of no return.

    One conditional update on the post row, which the scheduler's
    point-of-no-return write also takes: of the two, exactly one wins.
    """
    result = await session.execute(
        update(Post)
        .where(Post.id == post_id, Post.user_id == user_id, CANCELLABLE)
        .values(
            status="cancelled",
            lease_owner=None,
            lease_until=None,
            finished_at=now,
            updated_at=now,
        )
        .returning(Post)
    )
    post = result.scalar_one_or_none()
    if post is not None:
        await session.execute(
            update(Delivery)
            .where(Delivery.post_id == post_id, Delivery.status == "pending")
            .values(status="cancelled")
        )
    return post


async def recent(session: AsyncSession, user_id: str, limit: int) -> Sequence[Post]:
    query = (
        select(Post)
        .where(Post.user_id == user_id)
        .order_by(Post.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
