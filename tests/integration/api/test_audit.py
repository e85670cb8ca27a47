"""One user's whole life leaves an audit trail of who did what, and no secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from fixtures import lemonsqueezy as ls
from sqlalchemy import select
from support.server import Server, serve

from syndic.db.engine import Database
from syndic.db.models import ApiKey, AuditEntry

EMAIL = "life@example.test"
BOT_TOKEN = "987654:" + "Zq7" * 12
WEBHOOK_TOKEN = "Wh" + "k9" * 34
DISCORD_URL = f"https://discord.com/api/webhooks/123456789012345678/{WEBHOOK_TOKEN}"


@dataclass(frozen=True)
class Life:
    server: Server
    user_id: str
    admin_id: str
    admin: dict[str, str]
    event_id: int
    keys: tuple[str, ...]


async def _subscribe(server: Server, user_id: str) -> int:
    """Deliver a signed `subscription_created` for the user; the event id."""

    def for_user(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = {"user_id": user_id}
        doc["data"]["attributes"]["user_email"] = EMAIL

    raw = ls.varied("subscription_created", for_user)
    secret = server.rt.settings.lemon_webhook_secret.get_secret_value()
    headers = ls.headers(raw) | {"X-Signature": ls.sign(raw, secret)}
    answer = await server.client.post(
        "/v1/webhooks/lemon", content=raw, headers=headers
    )
    assert answer.json()["status"] == "processed", answer.text
    event_id: int = answer.json()["event_id"]
    return event_id


@pytest.fixture
async def life(db: Database) -> AsyncIterator[Life]:
    """A user created by the website, subscribed, managed, banned, unbanned,
    and stripped of keys and accounts again."""
    async with serve(
        db, sandbox=False, run_scheduler=False, lemon_variants=ls.VARIANTS
    ) as server:
        client = server.client
        secret = server.rt.settings.internal_api_secret.get_secret_value()
        website = {"X-Internal-Secret": secret}
        admin_id, admin = await server.user_with_key(admin=True)

        created = await client.post(
            "/internal/users", json={"email": EMAIL}, headers=website
        )
        user_id = created.json()["id"]
        await client.post(
            "/internal/users", json={"email": EMAIL, "tier": "basic"}, headers=website
        )
        first = await client.post(
            "/internal/keys/generate",
            json={"user_id": user_id, "name": "website"},
            headers=website,
        )
        own = {"Authorization": f"Bearer {first.json()['key']}"}
        second = await client.post(
            "/v1/keys/generate", json={"name": "cli"}, headers=own
        )
        await client.put(
            f"/internal/accounts/{user_id}/telegram",
            json={"credentials": {"bot_token": BOT_TOKEN, "chat_id": "@life_news"}},
            headers=website,
        )
        await client.put(
            "/v1/accounts/discord",
            json={"credentials": {"webhook_url": DISCORD_URL}},
            headers=own,
        )
        event_id = await _subscribe(server, user_id)
        await client.put(
            f"/v1/admin/users/{user_id}/tier",
            json={"tier": "max", "reason": "beta tester"},
            headers=admin,
        )
        await client.post(f"/v1/admin/reset-quota/{user_id}", headers=admin)
        await client.post(
            "/v1/admin/blacklist",
            json={"user_id": user_id, "reason": "chargeback"},
            headers=admin,
        )
        await client.delete(f"/v1/admin/blacklist/{user_id}", headers=admin)
        await client.delete("/v1/accounts/discord", headers=own)
        await client.delete(
            f"/internal/keys/{second.json()['prefix']}", headers=website
        )
        await client.delete(f"/v1/keys/{first.json()['prefix']}", headers=own)

        yield Life(
            server=server,
            user_id=user_id,
            admin_id=admin_id,
            admin=admin,
            event_id=event_id,
            keys=(
                first.json()["key"],
                second.json()["key"],
                admin["Authorization"].removeprefix("Bearer "),
            ),
        )


async def test_every_act_of_a_users_life_is_audited_with_who(life: Life) -> None:
    page = await life.server.client.get(
        "/v1/admin/audit", params={"user_id": life.user_id}, headers=life.admin
    )

    assert page.status_code == 200, page.text
    entries = list(reversed(page.json()["entries"]))
    assert all(e["at"] for e in entries)
    by_webhook = [e for e in entries if e["actor"] == f"webhook:{life.event_id}"]
    change = next(e for e in by_webhook if e["action"] == "tier_changed")
    assert change["details"]["changes"]["tier"] == ["basic", "pro"]
    user, admin = f"user:{life.user_id}", f"admin:{life.admin_id}"
    assert [(e["action"], e["actor"]) for e in entries if e not in by_webhook] == [
        ("user_created", "internal"),
        ("tier_changed", "internal"),
        ("key_generated", "internal"),
        ("key_generated", user),
        ("credentials_stored", "internal"),
        ("credentials_stored", user),
        ("tier_changed", admin),
        ("quota_reset", admin),
        ("user_banned", admin),
        ("user_unbanned", admin),
        ("credentials_removed", user),
        ("key_revoked", "internal"),
        ("key_revoked", user),
    ]


async def test_no_audit_entry_holds_a_key_token_or_secret(life: Life) -> None:
    async with life.server.rt.db.transaction() as session:
        rows = (await session.execute(select(AuditEntry))).scalars().all()
        digests = (await session.execute(select(ApiKey.key_hash))).scalars().all()
    stored = json.dumps(
        [[row.actor, row.action, row.user_id, row.details] for row in rows]
    )
    settings = life.server.rt.settings

    secrets = {
        **{f"key {n}": key for n, key in enumerate(life.keys)},
        **{f"key digest {n}": digest for n, digest in enumerate(digests)},
        "telegram bot token": BOT_TOKEN,
        "discord webhook token": WEBHOOK_TOKEN,
        "internal secret": settings.internal_api_secret.get_secret_value(),
        "api token secret": settings.api_token_secret.get_secret_value(),
        "credentials key": settings.credentials_key.get_secret_value(),
        "webhook secret": settings.lemon_webhook_secret.get_secret_value(),
    }

    assert len(rows) >= 14
    leaked = [name for name, value in secrets.items() if value in stored]
    assert not leaked, f"audit rows hold: {leaked}"
