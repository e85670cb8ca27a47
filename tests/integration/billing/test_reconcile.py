"""Drift repair against the emulated API: tier, status and dates follow LS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from billing_support import Deliver, MakeUser, ServedEmulator, UserOf
from fixtures import lemonsqueezy as ls
from sqlalchemy import select

from syndic.billing import reconcile
from syndic.billing.emulator import ls_time
from syndic.db.engine import Database
from syndic.db.models import AuditEntry

LATER = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def _state(**changes: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = ls.document("subscription_created")["data"]
    return {**attributes["attributes"], **changes}


async def _reconcile_audit(db: Database) -> list[AuditEntry]:
    async with db.transaction() as session:
        query = select(AuditEntry).where(AuditEntry.actor == reconcile.ACTOR)
        return list((await session.execute(query)).scalars().all())


async def test_a_missed_plan_change_is_repaired_and_audited(
    db: Database,
    lemon: ServedEmulator,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
) -> None:
    await make_user()
    await deliver("subscription_created")
    renews = datetime(2026, 5, 2, 10, 15, 2, tzinfo=UTC)
    lemon.state.register_subscription(
        ls.SUBSCRIPTION_ID,
        _state(
            variant_id=700301,
            renews_at=ls_time(renews),
            updated_at=ls_time(datetime(2026, 3, 20, tzinfo=UTC)),
        ),
    )

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    user = await user_of()
    assert (report.checked, report.repaired, report.failed) == (1, 1, 0)
    assert (user.tier, user.ls_variant_id, user.subscription_renews_at) == (
        "max",
        "700301",
        renews,
    )
    [entry] = await _reconcile_audit(db)
    assert entry.action == "tier_changed"
    assert entry.details["changes"]["tier"] == ["pro", "max"]
    assert entry.details["cause"] == "reconcile"


async def test_a_missed_expiry_returns_the_user_to_free(
    db: Database,
    lemon: ServedEmulator,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
) -> None:
    await make_user()
    await deliver("subscription_cancelled")
    lemon.state.register_subscription(ls.SUBSCRIPTION_ID, _state())
    lemon.state.update_subscription(
        ls.SUBSCRIPTION_ID, status="expired", ends_at="2026-05-02T10:15:02.000000Z"
    )

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    user = await user_of()
    assert report.repaired == 1
    assert (user.tier, user.subscription_status) == ("free", "expired")


async def test_no_drift_changes_nothing(
    db: Database,
    lemon: ServedEmulator,
    deliver: Deliver,
    make_user: MakeUser,
) -> None:
    await make_user()
    await deliver("subscription_created")
    lemon.state.register_subscription(ls.SUBSCRIPTION_ID, _state())

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    assert (report.checked, report.repaired, report.failed) == (1, 0, 0)
    assert await _reconcile_audit(db) == []


async def test_an_api_state_older_than_ours_is_not_applied(
    lemon: ServedEmulator,
    db: Database,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
) -> None:
    await make_user()
    await deliver("subscription_updated")
    lemon.state.register_subscription(ls.SUBSCRIPTION_ID, _state())

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    assert report.repaired == 0
    assert (await user_of()).tier == "max"


async def test_one_failing_subscription_does_not_stop_the_others(
    db: Database,
    lemon: ServedEmulator,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
) -> None:
    await make_user("usr_gone", "gone@example.test")
    await make_user("usr_legacy", "legacy@example.test")
    await make_user()
    for user_id, subscription_id in (("usr_gone", "1"), ("usr_legacy", "2")):

        def other(
            doc: dict[str, Any], user_id: str = user_id, sid: str = subscription_id
        ) -> None:
            doc["meta"]["custom_data"] = {"user_id": user_id}
            doc["data"]["id"] = sid

        await deliver(ls.varied("subscription_created", other))
    await deliver("subscription_created")
    lemon.state.register_subscription(
        "2", _state(variant_id=799999, updated_at=ls_time(LATER))
    )
    lemon.state.register_subscription(
        ls.SUBSCRIPTION_ID, _state(variant_id=700101, updated_at=ls_time(LATER))
    )

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    assert (report.checked, report.repaired, report.failed) == (1, 1, 2)
    assert (await user_of()).tier == "basic"
    assert (await user_of("usr_legacy")).tier == "pro"


async def test_expired_and_free_users_are_not_fetched(
    db: Database, lemon: ServedEmulator, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()
    await make_user("usr_free", "free@example.test")
    await deliver("subscription_expired")

    report = await reconcile.reconcile_subscriptions(db, lemon.settings, now=LATER)

    assert (report.checked, report.repaired, report.failed) == (0, 0, 0)
