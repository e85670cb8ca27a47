"""The scheduler's leases: claim, renew, hand back.

A post is taken by setting `lease_owner`, `lease_until` and a new `fence`
(a number that only goes up). Every later write of the scheduler names the
owner and fence it holds (see `publishing`), so a process whose lease ran
out and was taken over can no longer change the post.

Posts whose lease expired are simply claimable again: the next claim takes
them with a higher fence. Deliveries the old holder left in `publishing`
(it may or may not have reached the platform) become `unknown` when the new
holder starts, and are never re-sent automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import Ban, Post


@dataclass(frozen=True, slots=True)
class Claim:
    post_id: str
    release_at: datetime
    fence: int
    tier: str


def _claimable(now: datetime) -> ColumnElement[bool]:
    # a banned user's posts wait; they go out if the ban is lifted
    return and_(
        or_(
            Post.status == "pending",
            and_(Post.status == "dispatched", Post.lease_until < now),
        ),
        ~_banned(),
    )


def _banned() -> ColumnElement[bool]:
    return exists().where(Ban.user_id == Post.user_id)


async def claim_due(
    session: AsyncSession,
    *,
    owner: str,
    horizon: datetime,
    lease_until: datetime,
    now: datetime,
    limit: int,
) -> list[Claim]:
    """Take up to `limit` posts due before `horizon`, pending or with a lapsed lease."""
    due = (
        select(Post.id)
        .where(Post.release_at < horizon, _claimable(now))
        .order_by(Post.release_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _take(
        session, Post.id.in_(due.scalar_subquery()), owner, lease_until, now
    )


async def claim_one(
    session: AsyncSession,
    *,
    post_id: str,
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> Claim | None:
    claims = await _take(session, Post.id == post_id, owner, lease_until, now)
    return claims[0] if claims else None


async def _take(
    session: AsyncSession,
    which: ColumnElement[bool],
    owner: str,
    lease_until: datetime,
    now: datetime,
) -> list[Claim]:
    result = await session.execute(
        update(Post)
        .where(which, _claimable(now))
        .values(
            status="dispatched",
            lease_owner=owner,
            lease_until=lease_until,
            fence=Post.fence + 1,
            updated_at=now,
        )
        .returning(Post.id, Post.release_at, Post.fence, Post.tier)
        .execution_options(synchronize_session=False)
    )
    return [Claim(row.id, row.release_at, row.fence, row.tier) for row in result]


async def renew(session: AsyncSession, *, owner: str, until: datetime) -> int:
    """Extend every lease `owner` holds; the number of posts renewed.

    Posts its publisher is writing at this moment are skipped rather than
    waited for (waiting on many rows, in another order than the publisher's
    groups, could deadlock with them): one missed renewal still leaves such
    a post more than the lease minus a tick."""
    result = await session.execute(
        update(Post)
        .where(
            Post.id.in_(
                _unlocked(Post.lease_owner == owner, Post.status == "dispatched")
            )
        )
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _unlocked(*where: ColumnElement[bool]) -> ScalarSelect[str]:
    """Ids of the posts matching `where` that no other transaction is writing."""
    return (
        select(Post.id)
        .where(*where)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


async def lapse_others(session: AsyncSession, *, owner: str, now: datetime) -> int:
    """End every lease held by another owner now (one process per SQLite file:
    any other owner is a process that died)."""
    result = await session.execute(
        update(Post)
        .where(Post.status == "dispatched", Post.lease_owner != owner)
        .values(lease_until=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, *, owner: str, now: datetime) -> int:
    """Hand back leases not yet past their point of no return (graceful stop);
    a post passing it at this moment is skipped, as for `renew`."""
    result = await session.execute(
        update(Post)
        .where(
            Post.id.in_(
                _unlocked(
                    Post.lease_owner == owner,
                    Post.status == "dispatched",
                    Post.publish_started_at.is_(None),
                )
            ),
            Post.publish_started_at.is_(None),
        )
        .values(status="pending", lease_owner=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
