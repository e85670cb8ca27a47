"""Which tier a subscription state grants; the effective tier; the bonus month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fixtures import lemonsqueezy as ls

from syndic.billing import entitlement, events, referrals
from syndic.db.models import User
from syndic.plans import Tier

NOW = datetime(2026, 4, 21, 12, 0, tzinfo=UTC)


def _attributes(**changes: Any) -> events.SubscriptionAttributes:
    attributes = ls.document("subscription_updated")["data"]["attributes"]
    attributes.update(changes)
    return events.SubscriptionAttributes.model_validate(attributes)


@pytest.mark.parametrize(
    ("changes", "tier"),
    [
        ({"status": "active"}, Tier.MAX),
        ({"status": "on_trial"}, Tier.MAX),
        ({"status": "past_due"}, Tier.MAX),
        ({"status": "cancelled", "ends_at": "2026-05-02T10:15:02Z"}, Tier.MAX),
        ({"status": "cancelled", "ends_at": "2026-04-21T12:00:00Z"}, Tier.FREE),
        ({"status": "paused", "pause": {"mode": "free"}}, Tier.MAX),
        ({"status": "paused", "pause": {"mode": "void"}}, Tier.FREE),
        ({"status": "paused", "pause": None}, Tier.FREE),
        ({"status": "unpaid"}, Tier.FREE),
        ({"status": "expired"}, Tier.FREE),
        ({"status": "active", "variant_id": 700101}, Tier.BASIC),
        ({"status": "expired", "variant_id": 799999}, Tier.FREE),
    ],
)
def test_granted_tier_follows_status_and_variant(
    changes: dict[str, Any], tier: Tier
) -> None:
    assert entitlement.granted_tier(_attributes(**changes), ls.VARIANTS, NOW) is tier


def test_an_unknown_variant_is_refused_where_the_tier_depends_on_it() -> None:
    with pytest.raises(ValueError, match="799999"):
        entitlement.granted_tier(_attributes(variant_id=799999), ls.VARIANTS, NOW)


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="frozen"):
        entitlement.granted_tier(_attributes(status="frozen"), ls.VARIANTS, NOW)


def _user(**fields: Any) -> User:
    values: dict[str, Any] = {"tier": "free", "bonus_pro_until": None}
    values |= {"subscription_status": None, "subscription_ends_at": None}
    values.update(fields)
    return User(id="usr_x", email="x@example.test", referral_code="r", **values)


def test_effective_tier_is_the_stored_tier_by_default() -> None:
    assert entitlement.effective_tier(_user(tier="basic"), NOW) is Tier.BASIC


def test_a_cancelled_subscription_past_its_end_is_free() -> None:
    ended = datetime(2026, 4, 1, tzinfo=UTC)
    later = datetime(2026, 5, 1, tzinfo=UTC)

    past = _user(
        tier="pro", subscription_status="cancelled", subscription_ends_at=ended
    )
    grace = _user(
        tier="pro", subscription_status="cancelled", subscription_ends_at=later
    )

    assert entitlement.effective_tier(past, NOW) is Tier.FREE
    assert entitlement.effective_tier(grace, NOW) is Tier.PRO


@pytest.mark.parametrize(
    ("tier", "effective"),
    [("free", Tier.PRO), ("basic", Tier.PRO), ("pro", Tier.PRO), ("max", Tier.MAX)],
)
def test_a_running_bonus_lifts_to_pro_and_never_lowers(
    tier: str, effective: Tier
) -> None:
    user = _user(tier=tier, bonus_pro_until=datetime(2026, 5, 1, tzinfo=UTC))

    assert entitlement.effective_tier(user, NOW) is effective


def test_an_ended_bonus_lifts_nothing() -> None:
    user = _user(tier="free", bonus_pro_until=NOW)

    assert entitlement.effective_tier(user, NOW) is Tier.FREE


def test_a_bonus_lasts_one_calendar_month_and_extends_a_running_one() -> None:
    jan31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)

    assert referrals.bonus_end(None, jan31) == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert referrals.bonus_end(datetime(2026, 1, 1, tzinfo=UTC), jan31) == datetime(
        2026, 2, 28, 9, 0, tzinfo=UTC
    )
    running = datetime(2026, 3, 10, tzinfo=UTC)
    assert referrals.bonus_end(running, jan31) == datetime(2026, 4, 10, tzinfo=UTC)
