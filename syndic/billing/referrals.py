"""Referrals: every fifth counted referral gives the referrer a month of pro.

A referred user (`users.referred_by`) counts once, when a subscription of
theirs is first seen `active`; a row in `referral_credits`, unique per
referred user, makes that idempotent under redelivery and later
subscriptions. The reward sets `users.bonus_pro_until` one calendar month
ahead (from its current end if one is running), and
`entitlement.effective_tier` treats the user as at least pro until then.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from syndic import plans
from syndic.db.models import User
from syndic.db.repo import audit, billing

log = logging.getLogger(__name__)

REFERRALS_PER_BONUS = 5


async def count_subscription(
    session: AsyncSession,
    user: User,
    subscription_id: str,
    *,
    now: datetime,
    actor: str,
) -> bool:
    """Count `user`'s paid subscription for their referrer; True if it counted now."""
    if user.referred_by is None or user.referred_by == user.id:
        return False

    # the referrer's row lock orders concurrent credits, so one of them is the fifth
    referrer = await billing.locked_user(session, user.referred_by)
    if referrer is None:
        return False
    counted = await billing.add_referral_credit(
        session,
        referred_user_id=user.id,
        referrer_id=referrer.id,
        subscription_id=subscription_id,
        now=now,
    )
    if not counted:
        return False

    count = await billing.referral_count(session, referrer.id)
    await audit.record(
        session,
        actor=actor,
        action="referral_counted",
        now=now,
        user_id=referrer.id,
        referred_user_id=user.id,
        referrals=count,
    )
    log.info(
        "referral_counted",
        extra={"referrer_id": referrer.id, "user_id": user.id, "referrals": count},
    )
    if count % REFERRALS_PER_BONUS == 0:
        await _grant_bonus(session, referrer, now=now, actor=actor, referrals=count)
    return True


def bonus_end(current: datetime | None, now: datetime) -> datetime:
    """One calendar month after `now`, or after a bonus still running."""
    start = now if current is None or current < now else current
    _, end = plans.anniversary_period(start, start)
    return end


async def _grant_bonus(
    session: AsyncSession, referrer: User, *, now: datetime, actor: str, referrals: int
) -> None:
    until = bonus_end(referrer.bonus_pro_until, now)
    referrer.bonus_pro_until = until
    referrer.updated_at = now
    await audit.record(
        session,
        actor=actor,
        action="referral_bonus_granted",
        now=now,
        user_id=referrer.id,
        bonus_pro_until=until.isoformat(),
        referrals=referrals,
    )
    log.info(
        "referral_bonus_granted",
        extra={"user_id": referrer.id, "until": until.isoformat()},
    )
