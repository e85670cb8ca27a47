"""Drift repair: re-read live subscriptions from Lemon Squeezy and apply them.

A webhook can be lost (LS stops retrying after about 2.5 minutes) or fail
here. `reconcile_subscriptions`, run periodically by the scheduler, fetches
each subscription syndic holds as live and applies it by the same rule as a
webhook (`lifecycle.apply_subscription`): a state at least as new as the
stored one wins, tier, status and dates follow, and every change is audited
with the actor `reconcile:lemonsqueezy`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from syndic import clock, config
from syndic.billing import entitlement, lifecycle
from syndic.billing.lemonsqueezy import LemonSqueezy
from syndic.db.engine import Database
from syndic.db.repo import billing

log = logging.getLogger(__name__)

ACTOR = "reconcile:lemonsqueezy"


@dataclass
class ReconcileReport:
    checked: int = 0
    repaired: int = 0
    failed: int = 0


async def reconcile_subscriptions(
    db: Database,
    settings: config.Settings,
    *,
    now: datetime | None = None,
    api: LemonSqueezy | None = None,
) -> ReconcileReport:
    """Repair every live subscription that drifted from Lemon Squeezy's state.

    `api` defaults to a client built from `settings` (closed afterwards).
    """
    now = now or clock.now()
    async with db.transaction() as session:
        targets = await billing.subscribers(session, entitlement.LIVE_STATUSES)

    report = ReconcileReport()
    async with contextlib.AsyncExitStack() as stack:
        if api is None:
            api = await stack.enter_async_context(LemonSqueezy.from_settings(settings))
        for user_id, subscription_id in targets:
            fields = {"user_id": user_id, "subscription_id": subscription_id}
            try:
                outcome = await _reconcile_one(
                    db, settings, api, user_id, subscription_id, now
                )
            except Exception:  # the loop top: one subscription must not stop the rest
                log.exception("reconcile_failed", extra=fields)
                report.failed += 1
                continue

            if outcome.status == lifecycle.FAILED:
                log.warning("reconcile_refused", extra={**fields, "note": outcome.note})
                report.failed += 1
                continue
            report.checked += 1
            if outcome.changed:
                log.info("reconcile_repaired", extra=fields)
                report.repaired += 1

    log.info("reconcile_finished", extra=asdict(report))
    return report


async def _reconcile_one(
    db: Database,
    settings: config.Settings,
    api: LemonSqueezy,
    user_id: str,
    subscription_id: str,
    now: datetime,
) -> lifecycle.Outcome:
    """Fetch one subscription and apply it to its user."""
    subscription = await api.get_subscription(subscription_id)
    async with db.transaction() as session:
        user = await billing.locked_user(session, user_id)
        if user is None or user.ls_subscription_id != subscription_id:
            return lifecycle.Outcome(lifecycle.IGNORED, "the user changed meanwhile")
        return await lifecycle.apply_subscription(
            session,
            user,
            subscription,
            settings.lemon_variants,
            now=now,
            actor=ACTOR,
            cause="reconcile",
        )
