"""Billing queries: users by subscription, row locks, referral credits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import ReferralCredit, User
from syndic.db.repo import _dialect


async def locked_user(session: AsyncSession, user_id: str) -> User | None:
    """The user, locked until the transaction ends, read fresh from the database."""
    query = (
        select(User)
        .where(User.id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def user_id_by_subscription(
    session: AsyncSession, subscription_id: str
) -> str | None:
    query = select(User.id).where(User.ls_subscription_id == subscription_id)
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def subscribers(
    session: AsyncSession, statuses: Collection[str]
) -> Sequence[tuple[str, str]]:
    """(user id, subscription id) for each subscription in one of `statuses`."""
    query = (
        select(User.id, User.ls_subscription_id)
        .where(User.subscription_status.in_(statuses))
        .order_by(User.id)
    )
    rows = (await session.execute(query)).all()
    return [(row[0], row[1]) for row in rows if row[1] is not None]


async def add_referral_credit(
    session: AsyncSession,
    *,
    referred_user_id: str,
    referrer_id: str,
    subscription_id: str,
    now: datetime,
) -> bool:
    """Count `referred_user_id` for its referrer; False if already counted."""
    statement = (
        _dialect.insert(session, ReferralCredit)
        .values(
            referred_user_id=referred_user_id,
            referrer_id=referrer_id,
            subscription_id=subscription_id,
            counted_at=now,
        )
        .on_conflict_do_nothing(index_elements=[ReferralCredit.referred_user_id])
        .returning(ReferralCredit.referred_user_id)
    )
    return (await session.execute(statement)).first() is not None


async def referral_count(session: AsyncSession, referrer_id: str) -> int:
    query = select(func.count()).where(ReferralCredit.referrer_id == referrer_id)
    return int((await session.execute(query)).scalar_one())
