"""What each event does to the user, in order, out of order, and when it cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from billing_support import NOW, Deliver, MakeUser, UserOf, make_settings
from fixtures import lemonsqueezy as ls
from sqlalchemy import select

from syndic.billing import inbox
from syndic.db.engine import Database
from syndic.db.models import AuditEntry, WebhookEvent
from syndic.db.repo import quotas
from syndic.services import periods

CREATED_AT = datetime(2026, 3, 2, 10, 15, 6, tzinfo=UTC)


async def _audit(db: Database, action: str | None = None) -> list[AuditEntry]:
    async with db.transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list((await session.execute(query)).scalars().all())


async def _event(db: Database, event_id: int) -> WebhookEvent:
    async with db.transaction() as session:
        row = await session.get(WebhookEvent, event_id)
    assert row is not None
    return row


async def test_the_whole_timeline_in_order_ends_on_free(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    seen = []
    for name in ls.TIMELINE:
        receipt = await deliver(name)
        user = await user_of()
        seen.append((name, receipt.status, user.tier, user.subscription_status))

    assert seen == [
        ("order_created", "ignored", "free", None),
        ("subscription_created", "processed", "pro", "active"),
        ("subscription_payment_success", "processed", "pro", "active"),
        ("subscription_updated", "processed", "max", "active"),
        ("subscription_payment_failed", "processed", "max", "past_due"),
        ("subscription_cancelled", "processed", "max", "cancelled"),
        ("subscription_resumed", "processed", "max", "active"),
        ("subscription_expired", "processed", "free", "expired"),
    ]
    user = await user_of()
    assert user.ls_variant_id is None
    assert user.subscription_renews_at is None
    assert user.billing_anchor is None
    assert user.subscription_ends_at == datetime(2026, 6, 2, 10, 15, 2, tzinfo=UTC)
    tiers = [
        entry.details["changes"]["tier"] for entry in await _audit(db, "tier_changed")
    ]
    assert tiers == [["free", "pro"], ["pro", "max"], ["max", "free"]]


async def test_created_upgrades_sets_the_anchor_and_resets_the_new_period(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    paid_period_start = CREATED_AT
    async with db.transaction() as session:
        for _ in range(3):
            await quotas.consume(
                session,
                user_id=ls.USER_ID,
                period_start=paid_period_start,
                image=False,
                post_limit=None,
                image_limit=None,
            )

    receipt = await deliver("subscription_created")

    user = await user_of()
    assert user.tier == "pro"
    assert user.billing_anchor == CREATED_AT
    assert user.ls_subscription_id == ls.SUBSCRIPTION_ID
    assert user.ls_customer_id == "4100001"
    assert user.ls_variant_id == "700201"
    assert user.subscription_renews_at == datetime(2026, 4, 2, 10, 15, 2, tzinfo=UTC)
    assert periods.current(user, NOW) == (
        CREATED_AT,
        datetime(2026, 4, 2, 10, 15, 6, tzinfo=UTC),
    )
    async with db.transaction() as session:
        assert await quotas.used(session, ls.USER_ID, paid_period_start) == (0, 0)
    entries = await _audit(db)
    assert [entry.action for entry in entries] == ["tier_changed", "quota_reset"]
    assert {entry.actor for entry in entries} == {f"webhook:{receipt.event_id}"}
    assert entries[0].details["cause"] == "subscription_created"


async def test_a_renewal_payment_resets_the_period_it_opens(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()
    await deliver("subscription_created")
    renewal_start = datetime(2026, 4, 2, 10, 15, 6, tzinfo=UTC)
    async with db.transaction() as session:
        await quotas.consume(
            session,
            user_id=ls.USER_ID,
            period_start=renewal_start,
            image=False,
            post_limit=None,
            image_limit=None,
        )

    def renewal(doc: dict[str, Any]) -> None:
        attributes = doc["data"]["attributes"]
        doc["data"]["id"] = "6100003"
        attributes["billing_reason"] = "renewal"
        attributes["created_at"] = "2026-04-02T10:15:09.000000Z"
        attributes["updated_at"] = "2026-04-02T10:15:12.000000Z"

    receipt = await deliver(ls.varied("subscription_payment_success", renewal))

    assert receipt.status == "processed"
    async with db.transaction() as session:
        assert await quotas.used(session, ls.USER_ID, renewal_start) == (0, 0)
    resets = await _audit(db, "quota_reset")
    assert resets[-1].details["period_start"] == renewal_start.isoformat()


async def test_an_initial_payment_changes_nothing(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()
    await deliver("subscription_created")
    before = len(await _audit(db))

    receipt = await deliver("subscription_payment_success")

    assert receipt.status == "processed"
    assert len(await _audit(db)) == before


async def test_payment_failed_keeps_the_tier_and_success_recovers(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_created")

    await deliver("subscription_payment_failed")
    failed = await user_of()

    def recovered(doc: dict[str, Any]) -> None:
        attributes = doc["data"]["attributes"]
        doc["data"]["id"] = "6100003"
        attributes["billing_reason"] = "renewal"
        attributes["updated_at"] = "2026-04-05T08:00:00.000000Z"

    await deliver(ls.varied("subscription_payment_success", recovered))
    after = await user_of()

    assert (failed.tier, failed.subscription_status) == ("pro", "past_due")
    assert (after.tier, after.subscription_status) == ("pro", "active")


async def test_cancelled_keeps_the_tier_until_ends_at(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_updated")

    await deliver("subscription_cancelled", now=datetime(2026, 4, 20, 17, tzinfo=UTC))

    user = await user_of()
    assert user.tier == "max"
    assert user.subscription_status == "cancelled"
    assert user.subscription_ends_at == datetime(2026, 5, 2, 10, 15, 2, tzinfo=UTC)


async def test_a_cancellation_processed_after_its_end_gives_free(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_updated")

    await deliver("subscription_cancelled", now=datetime(2026, 5, 3, tzinfo=UTC))

    assert (await user_of()).tier == "free"


@pytest.mark.parametrize(
    ("mode", "tier"), [("void", "free"), ("free", "max"), (None, "free")]
)
async def test_pause_void_gives_free_pause_free_keeps_and_unpause_restores(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf, mode: str | None, tier: str
) -> None:
    await make_user()
    await deliver("subscription_updated")

    def paused(doc: dict[str, Any]) -> None:
        doc["meta"]["event_name"] = "subscription_paused"
        attributes = doc["data"]["attributes"]
        attributes["status"] = "paused"
        attributes["pause"] = (
            None if mode is None else {"mode": mode, "resumes_at": None}
        )
        attributes["updated_at"] = "2026-03-15T09:00:00.000000Z"

    def unpaused(doc: dict[str, Any]) -> None:
        doc["meta"]["event_name"] = "subscription_unpaused"
        doc["data"]["attributes"]["updated_at"] = "2026-03-20T09:00:00.000000Z"

    await deliver(ls.varied("subscription_updated", paused))
    during = await user_of()
    await deliver(ls.varied("subscription_updated", unpaused))
    after = await user_of()

    assert (during.tier, during.subscription_status) == (tier, "paused")
    assert during.ls_variant_id == "700301"
    assert (after.tier, after.subscription_status) == ("max", "active")


@pytest.mark.parametrize(
    ("first", "second", "tier", "status"),
    [
        ("subscription_updated", "subscription_created", "max", "active"),
        ("subscription_expired", "subscription_resumed", "free", "expired"),
        ("subscription_resumed", "subscription_cancelled", "max", "active"),
        ("subscription_cancelled", "subscription_updated", "max", "cancelled"),
        ("subscription_expired", "subscription_created", "free", "expired"),
    ],
)
async def test_an_older_event_never_rolls_the_subscription_back(
    db: Database,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
    first: str,
    second: str,
    tier: str,
    status: str,
) -> None:
    await make_user()

    await deliver(first)
    receipt = await deliver(second)

    user = await user_of()
    assert (user.tier, user.subscription_status) == (tier, status)
    row = await _event(db, receipt.event_id)
    assert row.status == "ignored"
    assert row.note is not None
    assert "older than the stored state" in row.note


async def test_a_payment_failure_older_than_the_state_leaves_the_status(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_resumed")

    await deliver("subscription_payment_failed")

    assert (await user_of()).subscription_status == "active"


async def test_a_delayed_plan_change_still_applies_after_a_payment_failure(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_created")
    await deliver("subscription_payment_failed")

    await deliver("subscription_updated")

    assert (await user_of()).tier == "max"


async def test_another_subscriptions_expiry_does_not_end_the_current_one(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    def newer(doc: dict[str, Any]) -> None:
        doc["data"]["id"] = "1800002"
        attributes = doc["data"]["attributes"]
        attributes["created_at"] = "2026-05-20T08:00:00.000000Z"
        attributes["updated_at"] = "2026-05-20T08:00:00.000000Z"

    await deliver("subscription_cancelled")
    await deliver(ls.varied("subscription_created", newer))
    await deliver("subscription_expired")

    user = await user_of()
    assert user.ls_subscription_id == "1800002"
    assert (user.tier, user.subscription_status) == ("pro", "active")


async def test_a_new_subscription_after_expiry_is_adopted(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_expired")

    def newer(doc: dict[str, Any]) -> None:
        doc["data"]["id"] = "1800002"
        attributes = doc["data"]["attributes"]
        attributes["created_at"] = "2026-07-01T08:00:00.000000Z"
        attributes["updated_at"] = "2026-07-01T08:00:00.000000Z"

    receipt = await deliver(ls.varied("subscription_created", newer))

    user = await user_of()
    assert receipt.status == "processed"
    assert (user.ls_subscription_id, user.tier) == ("1800002", "pro")
    assert user.billing_anchor == datetime(2026, 7, 1, 8, tzinfo=UTC)


async def test_unknown_events_are_stored_as_ignored(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    def unknown(doc: dict[str, Any]) -> None:
        doc["meta"]["event_name"] = "affiliate_activated"
        doc["data"]["type"] = "affiliates"

    receipt = await deliver(ls.varied("subscription_created", unknown))

    row = await _event(db, receipt.event_id)
    assert (receipt.status, row.status) == ("ignored", "ignored")
    assert row.note == "nothing to do for affiliate_activated"
    assert (await user_of()).tier == "free"


async def test_an_unknown_variant_fails_and_changes_no_tier(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user(tier="basic")

    def legacy(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["variant_id"] = 799999
        doc["data"]["attributes"]["product_id"] = 600099

    receipt = await deliver(ls.varied("subscription_created", legacy))

    row = await _event(db, receipt.event_id)
    user = await user_of()
    assert receipt.status == "failed"
    assert row.last_error is not None
    assert "799999" in row.last_error
    assert (user.tier, user.ls_subscription_id, user.billing_anchor) == (
        "basic",
        None,
        None,
    )
    assert await _audit(db) == []


async def test_a_user_without_custom_data_is_found_by_email(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user("usr_other")

    def anonymous(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = []
        doc["data"]["attributes"]["user_email"] = " User@Example.test"

    receipt = await deliver(ls.varied("subscription_created", anonymous))

    assert receipt.status == "processed"
    assert (await user_of("usr_other")).tier == "pro"


async def test_an_unknown_custom_user_id_falls_back_to_email(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user("usr_other")

    receipt = await deliver("subscription_created")

    assert receipt.status == "processed"
    assert (await user_of("usr_other")).tier == "pro"


async def test_an_invoice_without_custom_data_is_linked_by_subscription(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_created")

    def anonymous(doc: dict[str, Any]) -> None:
        del doc["meta"]["custom_data"]
        doc["data"]["attributes"]["user_email"] = "changed@example.test"

    receipt = await deliver(ls.varied("subscription_payment_failed", anonymous))

    assert receipt.status == "processed"
    assert (await user_of()).subscription_status == "past_due"


async def test_an_unmatched_event_fails_and_replays_once_the_user_exists(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf, settings: Any
) -> None:
    receipt = await deliver("subscription_created")
    row = await _event(db, receipt.event_id)
    assert receipt.status == "failed"
    assert row.last_error is not None
    assert "no user matches" in row.last_error

    await make_user()
    view = await inbox.replay(db, settings, receipt.event_id, actor="admin:test")

    assert (view.status, view.attempts, view.last_error) == ("processed", 2, None)
    assert (await user_of()).tier == "pro"


async def test_test_mode_events_are_ignored_unless_accepted(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    def test_mode(doc: dict[str, Any]) -> None:
        doc["meta"]["test_mode"] = True
        doc["data"]["attributes"]["test_mode"] = True

    raw = ls.varied("subscription_created", test_mode)
    refused = await deliver(raw)
    assert refused.status == "ignored"
    assert (await user_of()).tier == "free"

    accepting = make_settings(lemon_accept_test_mode=True)
    replayed = await inbox.replay(db, accepting, refused.event_id, actor="admin:test")

    assert replayed.status == "processed"
    assert (await user_of()).tier == "pro"


async def test_an_invoice_for_another_subscription_is_ignored(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_created")

    def other(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["subscription_id"] = 1800009

    receipt = await deliver(ls.varied("subscription_payment_failed", other))

    assert receipt.status == "ignored"
    assert (await user_of()).subscription_status == "active"


async def test_processing_time_is_what_judges_a_past_grace_end(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_updated")
    just_before = datetime(2026, 5, 2, 10, 15, 2, tzinfo=UTC) - timedelta(seconds=1)

    await deliver("subscription_cancelled", now=just_before)

    assert (await user_of()).tier == "max"


A_CREATED = "2026-03-02T10:15:06.000000Z"


def _subscription_b(created_at: str) -> bytes:
    """`subscription_created` of a second subscription of the user, on max."""

    def change(doc: dict[str, Any]) -> None:
        doc["data"]["id"] = "1800002"
        attributes = doc["data"]["attributes"]
        attributes["variant_id"] = 700301
        attributes["created_at"] = created_at
        attributes["updated_at"] = "2026-03-05T09:00:00.000000Z"

    return ls.varied("subscription_created", change)


def _of_a(name: str) -> bytes:
    """A later event of the first subscription (pro), whatever its kind."""
    source = {
        "subscription_paused": "subscription_updated",
        "subscription_unpaused": "subscription_resumed",
    }.get(name, name)

    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["event_name"] = name
        attributes = doc["data"]["attributes"]
        if "variant_id" in attributes:
            attributes["variant_id"] = 700201
        if name == "subscription_paused":
            attributes["status"] = "paused"
            attributes["pause"] = {"mode": "free", "resumes_at": None}

    return ls.varied(source, change)


@pytest.mark.parametrize(
    "b_created_at", [A_CREATED, "2026-03-05T09:00:00.000000Z"], ids=["same", "later"]
)
async def test_the_replaced_subscriptions_cancel_and_expiry_leave_the_new_one(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf, b_created_at: str
) -> None:
    await make_user()
    await deliver("subscription_created")
    await deliver(_subscription_b(b_created_at))

    statuses = [
        (await deliver(_of_a(name))).status
        for name in ("subscription_cancelled", "subscription_expired")
    ]

    user = await user_of()
    assert statuses == ["ignored", "ignored"]
    assert (user.ls_subscription_id, user.tier, user.subscription_status) == (
        "1800002",
        "max",
        "active",
    )


@pytest.mark.parametrize(
    "name",
    [
        "subscription_updated",
        "subscription_cancelled",
        "subscription_resumed",
        "subscription_expired",
        "subscription_paused",
        "subscription_unpaused",
        "subscription_payment_success",
        "subscription_payment_failed",
    ],
)
@pytest.mark.parametrize(
    "b_created_at", [A_CREATED, "2026-03-05T09:00:00.000000Z"], ids=["same", "later"]
)
async def test_no_event_of_the_replaced_subscription_changes_the_user(
    db: Database,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
    name: str,
    b_created_at: str,
) -> None:
    await make_user()
    await deliver("subscription_created")
    await deliver(_subscription_b(b_created_at))
    before = len(await _audit(db))

    receipt = await deliver(_of_a(name))

    user = await user_of()
    assert receipt.status == "ignored"
    assert (user.ls_subscription_id, user.tier, user.subscription_status) == (
        "1800002",
        "max",
        "active",
    )
    assert len(await _audit(db)) == before
    row = await _event(db, receipt.event_id)
    assert row.note is not None
    assert "1800002" in row.note


async def test_a_newer_subscription_granting_less_waits_for_the_live_one(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_updated")

    def basic(doc: dict[str, Any]) -> None:
        doc["data"]["id"] = "1800002"
        attributes = doc["data"]["attributes"]
        attributes["variant_id"] = 700101
        attributes["created_at"] = "2026-03-20T08:00:00.000000Z"
        attributes["updated_at"] = "2026-03-20T08:00:00.000000Z"

    receipt = await deliver(ls.varied("subscription_created", basic))

    user = await user_of()
    assert receipt.status == "ignored"
    assert (user.ls_subscription_id, user.tier) == (ls.SUBSCRIPTION_ID, "max")


async def test_a_newer_subscription_replaces_a_cancelled_one_in_its_grace(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    await deliver("subscription_cancelled")

    def basic(doc: dict[str, Any]) -> None:
        doc["data"]["id"] = "1800002"
        attributes = doc["data"]["attributes"]
        attributes["variant_id"] = 700101
        attributes["created_at"] = "2026-04-22T08:00:00.000000Z"
        attributes["updated_at"] = "2026-04-22T08:00:00.000000Z"

    receipt = await deliver(ls.varied("subscription_created", basic))
    late = await deliver("subscription_expired")

    user = await user_of()
    assert (receipt.status, late.status) == ("processed", "ignored")
    assert (user.ls_subscription_id, user.tier) == ("1800002", "basic")


@pytest.mark.parametrize(
    "name", ["subscription_created", "subscription_payment_failed", "order_created"]
)
async def test_events_of_another_store_are_ignored(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf, name: str
) -> None:
    await make_user()
    if name != "subscription_created":
        await deliver("subscription_created")
    before = len(await _audit(db))

    def elsewhere(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["store_id"] = 90002

    receipt = await deliver(ls.varied(name, elsewhere))

    row = await _event(db, receipt.event_id)
    assert row.status == "ignored"
    assert row.note == "event of store 90002, not SYNDIC_LEMON_STORE_ID 90001"
    assert len(await _audit(db)) == before
    assert (await user_of()).subscription_status == (
        None if name == "subscription_created" else "active"
    )


async def test_without_a_configured_store_any_store_is_accepted(
    db: Database, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    anywhere = make_settings(lemon_store_id=None)

    def elsewhere(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["store_id"] = 90002

    raw = ls.varied("subscription_created", elsewhere)
    receipt = await inbox.receive(db, anywhere, raw, ls.headers(raw), now=NOW)

    assert receipt.status == "processed"
    assert (await user_of()).tier == "pro"
