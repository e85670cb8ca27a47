"""The billing status: effective tier, period, usage and limits."""

from __future__ import annotations

from datetime import UTC, datetime

from billing_support import NOW, Deliver, MakeUser, UserOf

from syndic.billing import customer
from syndic.db.engine import Database
from syndic.db.repo import quotas


async def _use(db: Database, user_id: str, period_start: datetime, posts: int) -> None:
    async with db.transaction() as session:
        for _ in range(posts):
            await quotas.consume(
                session,
                user_id=user_id,
                period_start=period_start,
                image=False,
                post_limit=None,
                image_limit=None,
            )


async def test_a_free_user_counts_by_calendar_month(
    db: Database, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await _use(db, "usr_test_0001", datetime(2026, 3, 1, tzinfo=UTC), 40)

    status = await customer.status(db, await user_of(), NOW)

    assert (status.tier, status.subscription_status) == ("free", None)
    assert (status.period_start, status.period_end) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert (status.posts_used, status.posts_limit, status.posts_left) == (40, 100, 60)
    assert (status.image_posts_limit, status.image_posts_left) == (10, 10)


async def test_a_subscriber_counts_by_billing_period_without_limits(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_created")
    anchor = datetime(2026, 3, 2, 10, 15, 6, tzinfo=UTC)
    await _use(db, "usr_test_0001", anchor, 7)

    status = await customer.status(db, await user_of(), NOW)

    assert (status.tier, status.subscription_status) == ("pro", "active")
    assert (status.period_start, status.period_end) == (
        anchor,
        datetime(2026, 4, 2, 10, 15, 6, tzinfo=UTC),
    )
    assert (status.posts_used, status.posts_limit, status.posts_left) == (7, None, None)
    assert status.renews_at == datetime(2026, 4, 2, 10, 15, 2, tzinfo=UTC)


async def test_a_referral_bonus_shows_as_the_effective_tier(
    db: Database, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user(tier="basic", bonus_pro_until=datetime(2026, 4, 1, tzinfo=UTC))

    status = await customer.status(db, await user_of(), NOW)

    assert (status.tier, status.subscribed_tier) == ("pro", "basic")
    assert status.posts_limit is None
