"""Processing failures are recorded, listed for admins and replayable."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from billing_support import NOW, Deliver, MakeUser, UserOf
from fixtures import lemonsqueezy as ls

from syndic import config, errors
from syndic.billing import inbox, lifecycle
from syndic.db.engine import Database
from syndic.db.repo import webhooks


async def _crash(*args: Any, **kwargs: Any) -> lifecycle.Outcome:
    raise RuntimeError("the processing code broke")


async def test_a_crash_is_recorded_as_failed_and_answered(
    db: Database,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await make_user()
    monkeypatch.setattr(lifecycle, "apply", _crash)

    with caplog.at_level(logging.ERROR, logger="syndic.billing.inbox"):
        receipt = await deliver("subscription_created")

    assert receipt.status == "failed"
    assert "webhook_crashed" in [record.getMessage() for record in caplog.records]
    [view] = await inbox.listing(db, status="failed")
    assert view.id == receipt.event_id
    assert view.attempts == 1
    assert view.last_error == "RuntimeError: the processing code broke"
    assert (await user_of()).tier == "free"


async def test_a_failed_event_is_replayed_after_the_fix(
    db: Database,
    settings: config.Settings,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await make_user()
    with monkeypatch.context() as patch:
        patch.setattr(lifecycle, "apply", _crash)
        receipt = await deliver("subscription_created")

    view = await inbox.replay(db, settings, receipt.event_id, actor="user:admin")

    assert (view.status, view.attempts, view.last_error) == ("processed", 2, None)
    assert view.processed_at is not None
    assert (await user_of()).tier == "pro"
    assert await inbox.listing(db, status="failed") == []


async def test_a_redelivery_retries_a_failed_event(
    deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    first = await deliver("subscription_created")
    await make_user()

    again = await deliver("subscription_created")

    assert (first.status, again.status) == ("failed", "processed")
    assert again.duplicate
    assert (await user_of()).tier == "pro"


async def test_a_processed_event_cannot_be_replayed(
    db: Database, settings: config.Settings, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()
    receipt = await deliver("subscription_created")

    with pytest.raises(errors.Conflict):
        await inbox.replay(db, settings, receipt.event_id, actor="user:admin")


async def test_replaying_an_unknown_event_is_not_found(
    db: Database, settings: config.Settings
) -> None:
    with pytest.raises(errors.NotFound):
        await inbox.replay(db, settings, 424242, actor="user:admin")


async def test_listing_filters_by_status_newest_first(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()
    for name in ls.TIMELINE:
        await deliver(name)

    everything = await inbox.listing(db)
    ignored = await inbox.listing(db, status="ignored")
    page = await inbox.listing(db, before=everything[2].id, limit=2)

    assert [view.event_name for view in everything] == list(reversed(ls.TIMELINE))
    assert [view.event_name for view in ignored] == ["order_created"]
    assert ignored[0].note == "nothing to do for order_created"
    assert [view.id for view in page] == [everything[3].id, everything[4].id]


@pytest.mark.parametrize(("status", "limit"), [("lost", 50), (None, 0), (None, 201)])
async def test_listing_refuses_bad_filters(
    db: Database, status: str | None, limit: int
) -> None:
    with pytest.raises(errors.InvalidInput):
        await inbox.listing(db, status=status, limit=limit)


async def test_events_left_received_are_processed_by_the_sweep(
    db: Database, settings: config.Settings, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    raw = ls.body("subscription_created")
    async with db.transaction() as session:
        event_id = await webhooks.store(
            session,
            dedupe_key="k" * 64,
            event_name="subscription_created",
            resource_type="subscriptions",
            resource_id=ls.SUBSCRIPTION_ID,
            webhook_id=None,
            test_mode=False,
            body_sha256="0" * 64,
            body=raw,
            now=NOW,
        )

    too_soon = await inbox.process_pending(db, settings, now=NOW + timedelta(seconds=5))
    swept = await inbox.process_pending(db, settings, now=NOW + timedelta(minutes=5))

    assert too_soon == {}
    assert swept == {event_id: "processed"}
    assert (await user_of()).tier == "pro"


async def test_a_failed_outcome_rolls_back_its_partial_changes(
    db: Database,
    deliver: Deliver,
    make_user: MakeUser,
    user_of: UserOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await make_user()
    real_apply = lifecycle.apply

    async def half_done(*args: Any, **kwargs: Any) -> lifecycle.Outcome:
        outcome = await real_apply(*args, **kwargs)
        return lifecycle.Outcome(lifecycle.FAILED, "refused late", outcome.user_id)

    monkeypatch.setattr(lifecycle, "apply", half_done)
    receipt = await deliver("subscription_created")

    assert receipt.status == "failed"
    assert (await user_of()).tier == "free"
