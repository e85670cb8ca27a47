"""Referrals: first paid subscriptions count once; every fifth gives a pro month."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from billing_support import NOW, Deliver, MakeUser, UserOf
from fixtures import lemonsqueezy as ls
from sqlalchemy import select

from syndic.billing import entitlement
from syndic.db.engine import Database
from syndic.db.models import AuditEntry
from syndic.db.repo import billing
from syndic.plans import Tier

REFERRER = "usr_referrer"


def _subscription_of(index: int, *, event: str = "subscription_created") -> bytes:
    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = {"user_id": f"usr_ref_{index}"}
        doc["data"]["id"] = str(1900000 + index)
        doc["data"]["attributes"]["user_email"] = f"ref{index}@example.test"

    return ls.varied(event, change)


async def _referred(make_user: MakeUser, count: int) -> None:
    await make_user(REFERRER, "referrer@example.test")
    for index in range(count):
        await make_user(
            f"usr_ref_{index}", f"ref{index}@example.test", referred_by=REFERRER
        )


async def _credits(db: Database) -> int:
    async with db.transaction() as session:
        return await billing.referral_count(session, REFERRER)


async def test_four_referrals_count_but_give_no_bonus(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await _referred(make_user, 4)

    for index in range(4):
        await deliver(_subscription_of(index))

    assert await _credits(db) == 4
    assert (await user_of(REFERRER)).bonus_pro_until is None


async def test_the_fifth_referral_gives_one_pro_month(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await _referred(make_user, 5)

    for index in range(5):
        await deliver(_subscription_of(index))

    referrer = await user_of(REFERRER)
    assert referrer.bonus_pro_until == datetime(2026, 4, 2, 10, 16, tzinfo=UTC)
    assert entitlement.effective_tier(referrer, NOW) is Tier.PRO
    assert (
        entitlement.effective_tier(referrer, datetime(2026, 4, 3, tzinfo=UTC))
        is Tier.FREE
    )
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == "referral_bonus_granted")
        [grant] = (await session.execute(query)).scalars().all()
    assert grant.user_id == REFERRER
    assert grant.details["referrals"] == 5


async def test_redelivery_and_later_events_do_not_count_again(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await _referred(make_user, 1)

    await deliver(_subscription_of(0))
    await deliver(_subscription_of(0))
    await deliver(_subscription_of(0, event="subscription_resumed"))
    await deliver(_subscription_of(0, event="subscription_updated"))

    assert await _credits(db) == 1


async def test_a_second_subscription_of_the_same_user_does_not_count(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await _referred(make_user, 1)
    await deliver(_subscription_of(0, event="subscription_expired"))

    def second(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = {"user_id": "usr_ref_0"}
        doc["data"]["id"] = "1999999"
        doc["data"]["attributes"]["created_at"] = "2026-07-01T00:00:00.000000Z"
        doc["data"]["attributes"]["updated_at"] = "2026-07-01T00:00:00.000000Z"

    await deliver(ls.varied("subscription_created", second))
    await deliver(_subscription_of(0, event="subscription_resumed"))

    assert await _credits(db) == 1


async def test_only_an_active_subscription_counts(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await _referred(make_user, 1)

    def trial(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = {"user_id": "usr_ref_0"}
        doc["data"]["attributes"]["status"] = "on_trial"

    await deliver(ls.varied("subscription_created", trial))

    assert await _credits(db) == 0


async def test_users_without_a_referrer_count_for_nobody(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user(REFERRER, "referrer@example.test")
    await make_user()

    await deliver("subscription_created")

    assert await _credits(db) == 0


async def test_concurrent_referrals_grant_one_bonus_per_five(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await _referred(make_user, 10)

    await asyncio.gather(*(deliver(_subscription_of(index)) for index in range(10)))

    assert await _credits(db) == 10
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.action == "referral_bonus_granted")
        grants = (await session.execute(query)).scalars().all()
    assert sorted(grant.details["referrals"] for grant in grants) == [5, 10]
    referrer = await user_of(REFERRER)
    assert referrer.bonus_pro_until == datetime(2026, 5, 2, 10, 16, tzinfo=UTC)
