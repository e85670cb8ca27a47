"""One user's whole life leaves an audit trail of who did what, and no secret."""

from __future__ import annotations

import json

from sqlalchemy import select
from support.server import Server

from syndic.db.models import ApiKey, AuditEntry

BOT_TOKEN = "987654:" + "Zq7" * 12
WEBHOOK_TOKEN = "Wh" + "k9" * 34
DISCORD_URL = f"https://discord.com/api/webhooks/123456789012345678/{WEBHOOK_TOKEN}"


async def test_a_users_life_is_audited_without_any_secret(
    server: Server, website: dict[str, str]
) -> None:
    client = server.client
    admin_id, admin = await server.user_with_key(admin=True)

    created = await client.post(
        "/internal/users", json={"email": "life@example.test"}, headers=website
    )
    user_id = created.json()["id"]
    await client.post(
        "/internal/users",
        json={"email": "life@example.test", "tier": "basic"},
        headers=website,
    )
    first = await client.post(
        "/internal/keys/generate",
        json={"user_id": user_id, "name": "website"},
        headers=website,
    )
    first_key = first.json()["key"]
    own = {"Authorization": f"Bearer {first_key}"}
    second = await client.post("/v1/keys/generate", json={"name": "cli"}, headers=own)
    second_key = second.json()["key"]
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
    await client.put(
        f"/v1/admin/users/{user_id}/tier",
        json={"tier": "pro", "reason": "beta tester"},
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
    await client.delete(f"/internal/keys/{second.json()['prefix']}", headers=website)
    await client.delete(f"/v1/keys/{first.json()['prefix']}", headers=own)

    page = await client.get(
        "/v1/admin/audit", params={"user_id": user_id}, headers=admin
    )

    assert page.status_code == 200, page.text
    trail = [(e["action"], e["actor"]) for e in reversed(page.json()["entries"])]
    by_admin = f"admin:{admin_id}"
    assert trail == [
        ("user_created", "internal"),
        ("user_updated", "internal"),
        ("tier_changed", "internal"),
        ("key_generated", "internal"),
        ("key_generated", f"user:{user_id}"),
        ("credentials_stored", "internal"),
        ("credentials_stored", f"user:{user_id}"),
        ("user_updated", by_admin),
        ("tier_changed", by_admin),
        ("quota_reset", by_admin),
        ("user_banned", by_admin),
        ("user_unbanned", by_admin),
        ("credentials_removed", f"user:{user_id}"),
        ("key_revoked", "internal"),
        ("key_revoked", f"user:{user_id}"),
    ]
    assert all(e["at"] for e in page.json()["entries"])

    async with server.rt.db.transaction() as session:
        rows = (await session.execute(select(AuditEntry))).scalars().all()
        digests = (await session.execute(select(ApiKey.key_hash))).scalars().all()
    stored = json.dumps(
        [[row.actor, row.action, row.user_id, row.details] for row in rows]
    )
    settings = server.rt.settings
    secrets = {
        "first key": first_key,
        "second key": second_key,
        "admin key": admin["Authorization"].removeprefix("Bearer "),
        "telegram bot token": BOT_TOKEN,
        "discord webhook token": WEBHOOK_TOKEN,
        "internal secret": settings.internal_api_secret.get_secret_value(),
        "api token secret": settings.api_token_secret.get_secret_value(),
        "credentials key": settings.credentials_key.get_secret_value(),
    }
    secrets |= {f"digest {n}": digest for n, digest in enumerate(digests)}
    leaked = [name for name, value in secrets.items() if value in stored]
    assert not leaked, f"audit rows hold: {leaked}"
