"""What a user asks of billing: a checkout, the customer portal, their status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from syndic import config, errors, plans
from syndic.billing import entitlement
from syndic.billing.lemonsqueezy import LemonSqueezy
from syndic.db.engine import Database
from syndic.db.models import User
from syndic.db.repo import billing, quotas
from syndic.services import periods

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BillingStatus:
    """`GET /v1/billing/status`: tier, subscription, quota of the current period.

    `tier` is the effective tier (referral bonus and grace end included);
    `subscribed_tier` is what the subscription alone grants. A limit of None
    means unlimited.
    """

    tier: str
    subscribed_tier: str
    subscription_status: str | None
    renews_at: datetime | None
    ends_at: datetime | None
    bonus_pro_until: datetime | None
    period_start: datetime
    period_end: datetime
    posts_used: int
    posts_limit: int | None
    posts_left: int | None
    image_posts_used: int
    image_posts_limit: int | None
    image_posts_left: int | None
    referral_code: str
    referrals: int


async def create_checkout(settings: config.Settings, user: User, tier: str) -> str:
    """The checkout URL for `tier`, for `POST /v1/billing/checkout`.

    The checkout is locked to the tier's variant and carries the user id,
    which the webhooks bring back. Raises `InvalidInput` for a tier without
    a variant, `Conflict` when the user already has a live subscription
    (plan changes go through the portal), `ServiceUnavailable` when billing
    is not configured or Lemon Squeezy cannot be reached.
    """
    variant_id = _variant_for(settings, tier)
    if settings.lemon_store_id is None:
        raise errors.ServiceUnavailable(
            "billing is not configured on this server (SYNDIC_LEMON_STORE_ID)"
        )
    if user.subscription_status in entitlement.LIVE_STATUSES:
        raise errors.Conflict(
            "you already have a subscription; change plans in the customer portal "
            "(GET /v1/billing/portal)"
        )

    async with LemonSqueezy.from_settings(settings) as api:
        checkout = await api.create_checkout(
            store_id=settings.lemon_store_id,
            variant_id=variant_id,
            email=user.email,
            custom={"user_id": user.id},
        )
    log.info(
        "checkout_created",
        extra={"user_id": user.id, "tier": tier, "checkout_id": checkout.id},
    )
    return checkout.url


async def portal_url(settings: config.Settings, user: User) -> str:
    """A fresh signed customer-portal URL (valid 24 h), for `GET /v1/billing/portal`.

    Raises `NotFound` when the user never subscribed.
    """
    if user.ls_subscription_id is None:
        raise errors.NotFound(
            "no subscription yet; start one with POST /v1/billing/checkout"
        )
    async with LemonSqueezy.from_settings(settings) as api:
        subscription = await api.get_subscription(user.ls_subscription_id)
    url = subscription.attributes.urls.customer_portal
    if not url:
        raise errors.NotFound("Lemon Squeezy has no portal link for this subscription")
    return url


async def status(db: Database, user: User, now: datetime) -> BillingStatus:
    """The user's billing status and quota at `now`."""
    tier = entitlement.effective_tier(user, now)
    plan = plans.plan_for(tier)
    start, end = periods.current(user, now)
    async with db.transaction() as session:
        posts_used, image_posts_used = await quotas.used(session, user.id, start)
        referrals = await billing.referral_count(session, user.id)

    return BillingStatus(
        tier=tier.value,
        subscribed_tier=user.tier,
        subscription_status=user.subscription_status,
        renews_at=user.subscription_renews_at,
        ends_at=user.subscription_ends_at,
        bonus_pro_until=user.bonus_pro_until,
        period_start=start,
        period_end=end,
        posts_used=posts_used,
        posts_limit=plan.posts_per_period,
        posts_left=_left(plan.posts_per_period, posts_used),
        image_posts_used=image_posts_used,
        image_posts_limit=plan.image_posts_per_period,
        image_posts_left=_left(plan.image_posts_per_period, image_posts_used),
        referral_code=user.referral_code,
        referrals=referrals,
    )


def _variant_for(settings: config.Settings, tier: str) -> str:
    for variant_id, variant_tier in settings.lemon_variants.items():
        if variant_tier == tier:
            return variant_id
    offered = sorted(set(settings.lemon_variants.values()))
    raise errors.InvalidInput(
        f"no checkout for tier {tier!r}; choose one of: {', '.join(offered) or 'none'}"
    )


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(0, limit - used)
