"""The scheduler's queries: claim under a lease, fence every write, release.

A post is taken by setting `lease_owner`, `lease_until` and a new `fence`
(a number that only goes up). Every later write of the scheduler names the
owner and fence it holds, so a process whose lease ran out and was taken
over can no longer change the post.

Posts whose lease expired are simply claimable again: the next claim takes
them with a higher fence. Deliveries the old holder left in `publishing`
(it may or may not have reached the platform) become `unknown` when the new
holder starts, and are never re-sent automatically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import Ban, Delivery, Post


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
    """Extend every lease `owner` holds; the number of posts renewed."""
    result = await session.execute(
        update(Post)
        .where(Post.lease_owner == owner, Post.status == "dispatched")
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


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
    """Hand back leases not yet past their point of no return (graceful stop)."""
    result = await session.execute(
        update(Post)
        .where(
            Post.lease_owner == owner,
            Post.status == "dispatched",
            Post.publish_started_at.is_(None),
        )
        .values(status="pending", lease_owner=None, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _held(post_id: str, owner: str, fence: int) -> ColumnElement[bool]:
    return and_(
        Post.id == post_id,
        Post.lease_owner == owner,
        Post.fence == fence,
        Post.status == "dispatched",
    )


async def start_publishing(
    session: AsyncSession, *, post_id: str, owner: str, fence: int, now: datetime
) -> tuple[Post, list[Delivery]] | None:
    """The post's point of no return; None if the lease is no longer ours
    (or its owner was banned meanwhile).

    Marks deliveries a previous holder left in `publishing` as `unknown`,
    and every delivery still to do as `publishing` (one more attempt each):
    the platforms are called right after. Returns the post and those.
    """
    result = await session.execute(
        update(Post)
        .where(_held(post_id, owner, fence), ~_banned())
        .values(
            publish_started_at=func.coalesce(Post.publish_started_at, now),
            updated_at=now,
        )
        .returning(Post)
        .execution_options(synchronize_session=False)
    )
    post = result.scalar_one_or_none()
    if post is None:
        return None

    await session.execute(
        update(Delivery)
        .where(Delivery.post_id == post_id, Delivery.status == "publishing")
        .values(
            status="unknown",
            error_code="outcome_unknown",
            error="syndic stopped while this platform call was in flight; "
            "check the account before posting again",
            answered_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    todo = await session.execute(
        update(Delivery)
        .where(Delivery.post_id == post_id, Delivery.status == "pending")
        .values(status="publishing", attempts=Delivery.attempts + 1, started_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    return post, sorted(todo.scalars().all(), key=lambda d: d.id)


async def begin_delivery(
    session: AsyncSession,
    *,
    delivery_id: int,
    post_id: str,
    owner: str,
    fence: int,
    now: datetime,
) -> bool:
    """A platform's point of no return: `publishing`, one more attempt."""
    held = exists().where(_held(post_id, owner, fence))
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "pending", held)
        .values(status="publishing", attempts=Delivery.attempts + 1, started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_delivery(
    session: AsyncSession,
    *,
    delivery_id: int,
    post_id: str,
    owner: str,
    fence: int,
    status: str,
    now: datetime,
    remote_id: str | None = None,
    url: str | None = None,
    error_code: str | None = None,
    error: str | None = None,
) -> bool:
    """Record a platform's answer, only while the lease is still ours."""
    held = exists().where(_held(post_id, owner, fence))
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "publishing", held)
        .values(
            status=status,
            remote_id=remote_id,
            url=url,
            error_code=error_code,
            error=error,
            answered_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession, *, post_id: str, owner: str, fence: int, now: datetime
) -> str | None:
    """Close the post from its deliveries' states; the final status or None."""
    states = (
        (
            await session.execute(
                select(Delivery.status).where(Delivery.post_id == post_id)
            )
        )
        .scalars()
        .all()
    )
    if any(state in ("pending", "publishing") for state in states):
        return None
    status = final_status(states)

    result = await session.execute(
        update(Post)
        .where(_held(post_id, owner, fence))
        .values(
            status=status,
            lease_owner=None,
            lease_until=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return status if result.rowcount else None  # type: ignore[attr-defined]


def final_status(states: Sequence[str]) -> str:
    """`published` if every platform took it, `failed` if none did, else
    `partially_failed`."""
    published = sum(state == "published" for state in states)
    if published == len(states):
        return "published"
    return "failed" if published == 0 else "partially_failed"


async def defer_delivery(
    session: AsyncSession,
    *,
    delivery_id: int,
    post_id: str,
    owner: str,
    fence: int,
    error_code: str,
    error: str,
) -> bool:
    """Back to `pending` after a transient failure the platform did not act on."""
    held = exists().where(_held(post_id, owner, fence))
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "publishing", held)
        .values(status="pending", error_code=error_code, error=error)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
