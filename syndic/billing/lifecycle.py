"""What a Lemon Squeezy event does to a user, inside the caller's transaction.

Subscription events are applied by state, not by name: whichever of created,
updated, cancelled, resumed, paused, unpaused or expired arrives, the user's
billing fields mirror the subscription's attributes and the tier follows
`entitlement.granted_tier`. Delivery order therefore does not matter:

- an event older (`data.attributes.updated_at`) than the state stored for
  the same subscription (`users.subscription_updated_at`) is ignored;
- an event about another subscription than the user's current one, of
  whatever kind, goes through one rule (`_replacement_refused`): it changes the user
  only when the current one is over (expired, or cancelled past its end),
  or when its subscription is newer (created later; in the same instant,
  the higher LS id) and grants at least the current tier, or any tier if
  the current one is cancelled and will not renew. Invoice events grant no
  tier, so they never replace. A replaced subscription's cancellation,
  pause or expiry therefore never touches a newer one.

The first event of a subscription sets `billing_anchor` to its `created_at`
(quota periods run from there, see `syndic.services.periods`) and resets the
quota of the period it opens. Expiry returns the user to free and clears
the variant, renewal date and anchor; the subscription id, end and version
stay, so late events of that subscription are recognised as stale. A
referred user's subscription seen `active` counts for the referrer
(`referrals`).

Invoice events carry no variant. `subscription_payment_success` for a
renewal resets the quota of the period the payment opens and turns a
`past_due` subscription `active`; `subscription_payment_failed` turns an
active one `past_due` (the tier stays while LS retries the card). They
change the status only when newer than the stored subscription state, and
never advance that state's version: a delayed plan change must still apply.

Events of another store than `SYNDIC_LEMON_STORE_ID` (when it is set) are
ignored, whatever they are. Other events (orders, license keys,
`subscription_payment_recovered`, which always comes with a `..._success`,
refunds, names LS adds later) are ignored. Failures come back as an
`Outcome`, never as an exception: the caller records them on the event row
and rolls back whatever was started.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from syndic import config
from syndic.billing import entitlement, events, referrals
from syndic.db.models import User
from syndic.db.repo import audit, billing, quotas, users
from syndic.plans import Tier
from syndic.services import periods

log = logging.getLogger(__name__)

PROCESSED = "processed"
IGNORED = "ignored"
FAILED = "failed"

_MIRRORED = (
    "tier",
    "ls_subscription_id",
    "ls_variant_id",
    "subscription_status",
    "subscription_renews_at",
    "subscription_ends_at",
)


@dataclass(frozen=True)
class Outcome:
    """How an event ended: its status, why, and whether it changed the user."""

    status: str
    note: str
    user_id: str | None = None
    changed: bool = False


async def apply(
    session: AsyncSession,
    body: bytes,
    settings: config.Settings,
    *,
    now: datetime,
    actor: str,
) -> Outcome:
    """Apply the event in `body` (already verified) to the user it concerns."""
    try:
        event = events.parse(body)
    except ValueError as exc:
        return Outcome(FAILED, f"unreadable payload: {_explain(exc)}")

    ours, store = settings.lemon_store_id, events.store_id(event)
    if ours and store not in (None, ours):
        return Outcome(
            IGNORED, f"event of store {store}, not SYNDIC_LEMON_STORE_ID {ours}"
        )
    if events.is_test_mode(event) and not settings.lemon_accept_test_mode:
        return Outcome(IGNORED, "test-mode event; SYNDIC_LEMON_ACCEPT_TEST_MODE is off")
    if isinstance(event, events.SubscriptionEvent):
        return await _subscription_event(session, event, settings, now, actor)
    if isinstance(event, events.InvoiceEvent) and event.meta.event_name in (
        "subscription_payment_success",
        "subscription_payment_failed",
    ):
        return await _invoice_event(session, event, now, actor)
    return Outcome(IGNORED, f"nothing to do for {event.meta.event_name}")


async def apply_subscription(
    session: AsyncSession,
    user: User,
    subscription: events.Subscription,
    variants: Mapping[str, str],
    *,
    now: datetime,
    actor: str,
    cause: str,
) -> Outcome:
    """Bring `user` (locked) in line with `subscription`'s state, if it is newer."""
    attributes = subscription.attributes
    try:
        tier = entitlement.granted_tier(attributes, variants, now)
    except ValueError as exc:
        return Outcome(FAILED, str(exc), user.id)
    stale = _stale(user, subscription, tier, now)
    if stale is not None:
        return Outcome(IGNORED, stale, user.id)

    adopting = user.ls_subscription_id != subscription.id
    before = _snapshot(user)
    _mirror(user, subscription, tier, adopting=adopting)
    changes = _changes(before, _snapshot(user))
    if changes:
        await _record_change(session, user, changes, now=now, actor=actor, cause=cause)

    if adopting and tier is not Tier.FREE:
        await _reset_quota(session, user, now, now=now, actor=actor, cause=cause)
    if attributes.status == "active":
        await referrals.count_subscription(
            session, user, subscription.id, now=now, actor=actor
        )
    return Outcome(PROCESSED, _describe(changes), user.id, changed=bool(changes))


async def _subscription_event(
    session: AsyncSession,
    event: events.SubscriptionEvent,
    settings: config.Settings,
    now: datetime,
    actor: str,
) -> Outcome:
    subscription = event.data
    user = await _find_user(
        session,
        user_id=event.meta.user_id,
        subscription_id=subscription.id,
        email=subscription.attributes.user_email,
    )
    if user is None:
        return Outcome(FAILED, _unmatched(event.meta.user_id, subscription.id))
    return await apply_subscription(
        session,
        user,
        subscription,
        settings.lemon_variants,
        now=now,
        actor=actor,
        cause=event.meta.event_name,
    )


async def _invoice_event(
    session: AsyncSession, event: events.InvoiceEvent, now: datetime, actor: str
) -> Outcome:
    attributes = event.data.attributes
    name = event.meta.event_name
    user = await _find_user(
        session,
        user_id=event.meta.user_id,
        subscription_id=attributes.subscription_id,
        email=attributes.user_email,
    )
    if user is None:
        return Outcome(
            FAILED, _unmatched(event.meta.user_id, attributes.subscription_id)
        )
    if user.ls_subscription_id != attributes.subscription_id:
        refusal = _replacement_refused(
            user, attributes.subscription_id, created_at=None, tier=None, now=now
        )
        if refusal is not None:
            return Outcome(IGNORED, refusal, user.id)

    stored = user.subscription_updated_at
    newer = stored is None or attributes.updated_at >= stored
    notes: list[str] = []
    if name == "subscription_payment_failed":
        if newer and user.subscription_status in ("active", "on_trial"):
            notes.append(await _set_status(session, user, "past_due", now, actor, name))
        return Outcome(PROCESSED, "; ".join(notes) or "no change", user.id, bool(notes))

    if newer and user.subscription_status == "past_due":
        notes.append(await _set_status(session, user, "active", now, actor, name))
    if attributes.billing_reason == "renewal" and user.tier != Tier.FREE:
        start = await _reset_quota(
            session, user, attributes.created_at, now=now, actor=actor, cause=name
        )
        notes.append(f"quota reset for the period from {start.isoformat()}")
    return Outcome(PROCESSED, "; ".join(notes) or "no change", user.id, bool(notes))


async def _find_user(
    session: AsyncSession, *, user_id: str | None, subscription_id: str, email: str
) -> User | None:
    """The event's user, locked: by custom data, else subscription, else email."""
    found: str | None = None
    if user_id is not None and await users.get(session, user_id) is not None:
        found = user_id
    if found is None:
        found = await billing.user_id_by_subscription(session, subscription_id)
    if found is None and email:
        by_email = await users.by_email(session, email)
        found = by_email.id if by_email is not None else None
    if found is None:
        return None
    return await billing.locked_user(session, found)


def _stale(
    user: User, subscription: events.Subscription, tier: Tier, now: datetime
) -> str | None:
    """Why this subscription state must not be applied to `user`, or None."""
    attributes = subscription.attributes
    if user.ls_subscription_id not in (None, subscription.id):
        return _replacement_refused(
            user, subscription.id, created_at=attributes.created_at, tier=tier, now=now
        )

    stored = user.subscription_updated_at
    if stored is not None and attributes.updated_at < stored:
        return (
            f"older than the stored state of subscription {subscription.id} "
            f"({attributes.updated_at.isoformat()} < {stored.isoformat()})"
        )
    return None


def _replacement_refused(
    user: User,
    subscription_id: str,
    *,
    created_at: datetime | None,
    tier: Tier | None,
    now: datetime,
) -> str | None:
    """Why an event of another subscription must leave `user` alone, or None.

    The one rule for every event whose subscription is not the user's
    current one. `created_at` and `tier` are that subscription's; they are
    None for an invoice, which names no variant and so never replaces.
    """
    current = user.ls_subscription_id
    if tier is None or created_at is None:
        return (
            f"subscription {subscription_id} is not the user's current "
            f"subscription {current}, and the event grants no tier"
        )
    status = user.subscription_status
    ends_at = user.subscription_ends_at
    ended = status == "cancelled" and ends_at is not None and ends_at <= now
    if status not in entitlement.LIVE_STATUSES or ended:
        return None

    if not _created_later(user, subscription_id, created_at):
        return f"subscription {subscription_id} is older than subscription {current}"
    held = Tier(user.tier)
    if entitlement.at_least(tier, held):
        return None
    # a cancelled subscription will not renew: a newer paid one takes over
    if status == "cancelled" and tier is not Tier.FREE:
        return None
    return (
        f"subscription {subscription_id} grants {tier.value}, less than "
        f"the {held.value} of subscription {current}, which is {status}"
    )


def _created_later(user: User, subscription_id: str, created_at: datetime) -> bool:
    """Whether the subscription came after the user's current one."""
    anchor = user.billing_anchor
    if anchor is None:
        return True
    if created_at != anchor:
        return created_at > anchor
    # the same instant: LS numbers subscriptions in the order they are made
    current = user.ls_subscription_id or ""
    return (len(subscription_id), subscription_id) > (len(current), current)


def _mirror(
    user: User, subscription: events.Subscription, tier: Tier, *, adopting: bool
) -> None:
    attributes = subscription.attributes
    user.tier = tier.value
    user.ls_subscription_id = subscription.id
    user.ls_customer_id = attributes.customer_id
    user.subscription_status = attributes.status
    user.subscription_ends_at = attributes.ends_at
    user.subscription_updated_at = attributes.updated_at
    if attributes.status == "expired":
        user.ls_variant_id = None
        user.subscription_renews_at = None
        user.billing_anchor = None
        user.portal_url = None
        return

    user.ls_variant_id = attributes.variant_id
    user.subscription_renews_at = attributes.renews_at
    if adopting or user.billing_anchor is None:
        user.billing_anchor = attributes.created_at


def _snapshot(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in _MIRRORED}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for every field that changed, JSON-ready."""
    return {
        name: [_plain(before[name]), _plain(after[name])]
        for name in _MIRRORED
        if before[name] != after[name]
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _describe(changes: dict[str, list[Any]]) -> str:
    if not changes:
        return "no change"
    return "; ".join(f"{name} {old} -> {new}" for name, (old, new) in changes.items())


async def _record_change(
    session: AsyncSession,
    user: User,
    changes: dict[str, list[Any]],
    *,
    now: datetime,
    actor: str,
    cause: str,
) -> None:
    user.updated_at = now
    action = "tier_changed" if "tier" in changes else "subscription_changed"
    await audit.record(
        session,
        actor=actor,
        action=action,
        now=now,
        user_id=user.id,
        cause=cause,
        changes=changes,
    )
    if "tier" in changes:
        old, new = changes["tier"]
        log.info(
            "tier_changed",
            extra={"user_id": user.id, "from": old, "to": new, "cause": cause},
        )


async def _set_status(
    session: AsyncSession,
    user: User,
    status: str,
    now: datetime,
    actor: str,
    cause: str,
) -> str:
    changes = {"subscription_status": [user.subscription_status, status]}
    user.subscription_status = status
    await _record_change(session, user, changes, now=now, actor=actor, cause=cause)
    return _describe(changes)


async def _reset_quota(
    session: AsyncSession,
    user: User,
    moment: datetime,
    *,
    now: datetime,
    actor: str,
    cause: str,
) -> datetime:
    """Zero the usage of the period holding `moment`; that period's start."""
    start, _ = periods.current(user, moment)
    await quotas.reset(session, user.id, start)
    await audit.record(
        session,
        actor=actor,
        action="quota_reset",
        now=now,
        user_id=user.id,
        cause=cause,
        period_start=start.isoformat(),
    )
    return start


def _unmatched(user_id: str | None, subscription_id: str) -> str:
    wanted = f"custom_data.user_id {user_id!r}, " if user_id else ""
    return (
        f"no user matches {wanted}subscription {subscription_id} or the "
        "customer's email; replay the event once the user exists"
    )


def _explain(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
    return str(exc)
