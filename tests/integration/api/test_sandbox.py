"""Sandbox mode: every platform and Lemon Squeezy answer offline."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.server import Server, serve

from syndic.db.engine import Database


@pytest.fixture
async def sandbox(db: Database) -> AsyncIterator[Server]:
    async with serve(db, sandbox=True, run_scheduler=False) as running:
        yield running


async def test_checkout_and_status_work_against_the_emulated_store(
    sandbox: Server,
) -> None:
    _, headers = await sandbox.user_with_key(tier="free")

    checkout = await sandbox.client.post(
        "/v1/billing/checkout", headers=headers, json={"tier": "pro"}
    )
    status = await sandbox.client.get("/v1/billing/status", headers=headers)

    assert checkout.status_code == 200, checkout.text
    assert "/checkout/custom/" in checkout.json()["url"]
    assert status.json()["tier"] == "free"


async def test_every_user_starts_connected_to_the_emulator_accounts(
    sandbox: Server,
) -> None:
    _, headers = await sandbox.user_with_key()

    accounts = (await sandbox.client.get("/v1/accounts", headers=headers)).json()[
        "accounts"
    ]

    assert {a["source"] for a in accounts} == {"sandbox"}
    assert {"discord", "telegram"} <= {a["platform"] for a in accounts}


async def test_sandbox_requests_are_listed_and_cleared(sandbox: Server) -> None:
    await sandbox.client.delete("/_sandbox/requests")

    listed = await sandbox.client.get("/_sandbox/requests")
    bad = await sandbox.client.get("/_sandbox/requests?platform=myspace")

    assert listed.json() == {"requests": []}
    assert bad.status_code == 422
