"""Receiving webhooks: signature first, stored before answered, once per event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from billing_support import NOW, Deliver, MakeUser, UserOf
from fixtures import lemonsqueezy as ls
from sqlalchemy import func, select
from starlette.datastructures import Headers

from syndic import config, errors
from syndic.billing import inbox
from syndic.db.engine import Database
from syndic.db.models import AuditEntry, WebhookEvent

CASES = Path(__file__).parents[2] / "fixtures" / "cases"


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(model))
            ).scalar_one()
        )


async def _tier_changes(db: Database) -> int:
    async with db.transaction() as session:
        query = select(func.count()).where(AuditEntry.action == "tier_changed")
        return int((await session.execute(query)).scalar_one())


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, "é" * 64, ls.signature("subscription_expired")],
)
async def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(
    db: Database,
    settings: config.Settings,
    make_user: MakeUser,
    signature: str | None,
) -> None:
    await make_user()
    raw = ls.body("subscription_created")
    headers = {"X-Event-Name": "subscription_created"}
    if signature is not None:
        headers["X-Signature"] = signature

    with pytest.raises(errors.InvalidSignature):
        await inbox.receive(db, settings, raw, headers, now=NOW)

    assert await _count(db, WebhookEvent) == 0
    assert await _count(db, AuditEntry) == 0


async def test_a_reencoded_body_is_refused(
    db: Database, settings: config.Settings, make_user: MakeUser
) -> None:
    await make_user()
    raw = json.dumps(json.loads(ls.body("subscription_created"))).encode()
    headers = {"X-Signature": ls.signature("subscription_created")}

    with pytest.raises(errors.InvalidSignature):
        await inbox.receive(db, settings, raw, headers, now=NOW)
    assert await _count(db, WebhookEvent) == 0


async def test_headers_are_read_case_insensitively(
    db: Database, settings: config.Settings, make_user: MakeUser
) -> None:
    await make_user()
    raw = ls.body("subscription_created")
    starlette_headers = Headers({"x-signature": ls.signature("subscription_created")})

    receipt = await inbox.receive(db, settings, raw, starlette_headers, now=NOW)

    assert receipt.status == "processed"


@pytest.mark.parametrize("name", ls.TIMELINE)
async def test_every_fixture_is_stored_verbatim_and_processed(
    db: Database, deliver: Deliver, make_user: MakeUser, name: str
) -> None:
    await make_user()
    if name != "subscription_created":
        await deliver("subscription_created")

    receipt = await deliver(name)

    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipt.event_id)
    assert row is not None
    assert row.body == ls.body(name)
    assert row.event_name == name
    assert row.status == receipt.status
    assert row.attempts == 1
    expected = "ignored" if name == "order_created" else "processed"
    assert receipt.status == expected
    assert not receipt.duplicate


async def test_b19_the_same_bytes_twice_store_one_row_and_both_succeed(
    db: Database, settings: config.Settings
) -> None:
    case = json.loads((CASES / "B19.json").read_text())
    secret = case["input"]["secret"]
    raw = case["input"]["raw_body_utf8"].encode()
    headers = {"X-Signature": case["input"]["x_signature"]}
    case_settings = settings.model_copy(
        update={"lemon_webhook_secret": config.SecretStr(secret)}
    )

    first = await inbox.receive(db, case_settings, raw, headers, now=NOW)
    second = await inbox.receive(db, case_settings, raw, headers, now=NOW)

    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.event_id == second.event_id
    assert await _count(db, WebhookEvent) == 1


async def test_a_redelivered_subscription_has_one_effect(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()

    first = await deliver("subscription_created")
    second = await deliver("subscription_created")

    assert first.status == second.status == "processed"
    assert second.duplicate
    assert await _count(db, WebhookEvent) == 1
    assert await _tier_changes(db) == 1


async def test_a_redelivery_with_a_new_webhook_id_has_one_effect(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()

    def new_id(doc: dict[str, Any]) -> None:
        doc["meta"]["webhook_id"] = "00000000-0000-4000-8000-000000000000"

    await deliver("subscription_created")
    again = await deliver(ls.varied("subscription_created", new_id))

    assert again.duplicate
    assert await _count(db, WebhookEvent) == 1
    assert await _tier_changes(db) == 1


async def test_concurrent_duplicates_have_one_effect_and_all_succeed(
    db: Database, deliver: Deliver, make_user: MakeUser
) -> None:
    await make_user()

    receipts = await asyncio.gather(
        *(deliver("subscription_created") for _ in range(8))
    )

    assert {receipt.event_id for receipt in receipts} == {receipts[0].event_id}
    assert sum(not receipt.duplicate for receipt in receipts) == 1
    assert {receipt.status for receipt in receipts} == {"processed"}
    assert await _count(db, WebhookEvent) == 1
    assert await _tier_changes(db) == 1
    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipts[0].event_id)
    assert row is not None
    assert row.attempts == 1


async def test_concurrent_different_events_of_one_user_end_on_the_newest(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    names = ("subscription_created", "subscription_updated", "subscription_cancelled")

    await asyncio.gather(*(deliver(name) for name in names))

    async with db.transaction() as session:
        statuses = (await session.execute(select(WebhookEvent.status))).scalars().all()
    assert set(statuses) <= {"processed", "ignored"}
    user = await user_of()
    assert user.tier == "max"
    assert user.subscription_status == "cancelled"


async def test_an_unstorable_delivery_raises_service_unavailable(
    settings: config.Settings, tmp_path: Path
) -> None:
    broken = Database(f"sqlite:///{tmp_path}/missing/dir/x.db")
    raw = ls.body("subscription_created")

    try:
        with pytest.raises(errors.ServiceUnavailable):
            await inbox.receive(broken, settings, raw, ls.headers(raw), now=NOW)
    finally:
        await broken.dispose()


async def test_a_signed_body_that_is_not_json_is_stored_as_failed(
    db: Database, deliver: Deliver
) -> None:
    receipt = await deliver(b"this is not json")

    assert receipt.status == "failed"
    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipt.event_id)
    assert row is not None
    assert row.last_error is not None
    assert row.last_error.startswith("unreadable payload")


async def test_a_signed_body_nested_too_deeply_is_stored_as_failed(
    db: Database, settings: config.Settings
) -> None:
    raw = b"[" * 5000 + b"]" * 5000
    headers = ls.headers(raw, event_name="subscription_created")

    receipt = await inbox.receive(db, settings, raw, headers, now=NOW)

    assert receipt.status == "failed"
    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipt.event_id)
    assert row is not None
    assert row.last_error == "unreadable payload: the body is nested too deeply"


async def test_nul_characters_in_a_signed_body_never_reach_the_database(
    db: Database, deliver: Deliver, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    def with_nul(doc: dict[str, Any]) -> None:
        doc["meta"]["webhook_id"] = "hook\u0000one"
        doc["meta"]["custom_data"] = {"user_id": ls.USER_ID + "\u0000", "k\u0000": 1}
        doc["data"]["id"] = "18000\u000001"
        attributes = doc["data"]["attributes"]
        attributes["status"] = "act\u0000ive"
        attributes["user_name"] = "\u0000"
        attributes["urls"]["customer_portal"] = "https://example.test/\u0000p"

    raw = ls.varied("subscription_created", with_nul)
    assert b"\\u0000" in raw
    receipt = await deliver(raw)

    assert receipt.status == "processed"
    user = await user_of()
    assert (user.tier, user.ls_subscription_id) == ("pro", ls.SUBSCRIPTION_ID)
    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipt.event_id)
    assert row is not None
    assert (row.webhook_id, row.resource_id) == ("hookone", ls.SUBSCRIPTION_ID)
    assert row.body == raw


async def test_a_nul_in_an_unreadable_body_fails_cleanly(
    db: Database, deliver: Deliver
) -> None:
    raw = b'{"meta":{"event_name":"subscription_\\u0000created"},"data":{"type":"x"}}'

    receipt = await deliver(raw)

    async with db.transaction() as session:
        row = await session.get(WebhookEvent, receipt.event_id)
    assert row is not None
    assert (row.status, row.event_name) == ("failed", "subscription_created")
    assert row.last_error is not None
    assert "\x00" not in row.last_error
