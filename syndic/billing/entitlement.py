"""Which tier a subscription grants, and which tier a user has right now.

The rule, one row per Lemon Squeezy status:

    on_trial, active      the variant's tier
    past_due              the variant's tier (LS is still retrying the card)
    cancelled             the variant's tier until `ends_at`, then free
    paused, mode "free"   the variant's tier (the service continues unpaid)
    paused, mode "void"   free while paused; unpausing restores the tier
    unpaid, expired       free

On top of that, a referral bonus (`users.bonus_pro_until`) lifts a free or
basic user to pro until it ends; it never lowers a max user.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from syndic.billing.events import SubscriptionAttributes
from syndic.db.models import User
from syndic.plans import Tier

PAID_STATUSES = frozenset({"on_trial", "active", "past_due", "cancelled"})
UNPAID_STATUSES = frozenset({"unpaid", "expired"})
KNOWN_STATUSES = PAID_STATUSES | UNPAID_STATUSES | {"paused"}
# statuses of a subscription that still exists and may come back
LIVE_STATUSES = KNOWN_STATUSES - {"expired"}

_RANK = {tier: rank for rank, tier in enumerate(Tier)}


def granted_tier(
    attributes: SubscriptionAttributes, variants: Mapping[str, str], now: datetime
) -> Tier:
    """The tier a subscription in this state grants at `now`.

    Raises `ValueError` for a status syndic does not know, or for a variant
    missing from `variants` (variant id -> tier) when the tier depends on it.
    """
    status = attributes.status
    if status not in KNOWN_STATUSES:
        raise ValueError(f"unknown subscription status {status!r}")
    if status in UNPAID_STATUSES:
        return Tier.FREE
    if status == "paused" and (
        attributes.pause is None or attributes.pause.mode != "free"
    ):
        return Tier.FREE
    if (
        status == "cancelled"
        and attributes.ends_at is not None
        and attributes.ends_at <= now
    ):
        return Tier.FREE

    tier = variants.get(attributes.variant_id)
    if tier is None:
        raise ValueError(
            f"variant {attributes.variant_id} is not mapped to a tier "
            "(SYNDIC_LEMON_VARIANTS)"
        )
    return Tier(tier)


def at_least(tier: Tier, other: Tier) -> bool:
    """Whether `tier` grants as much as `other`, or more."""
    return _RANK[tier] >= _RANK[other]


def effective_tier(user: User, now: datetime) -> Tier:
    """The tier `user` gets at `now`: stored tier, grace end, referral bonus.

    A cancelled subscription whose `ends_at` has passed counts as free even
    before the `subscription_expired` event (or the drift repair) arrives.
    """
    tier = Tier(user.tier)
    ended = user.subscription_ends_at is not None and user.subscription_ends_at <= now
    if user.subscription_status == "cancelled" and ended:
        tier = Tier.FREE

    bonus = user.bonus_pro_until
    if bonus is not None and now < bonus and _RANK[tier] < _RANK[Tier.PRO]:
        return Tier.PRO
    return tier
