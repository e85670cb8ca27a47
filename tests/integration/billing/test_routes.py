"""The billing routes over HTTP on a loopback socket, emulator behind them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from billing_support import MakeUser, ServedEmulator, serve
from fastapi import FastAPI
from fixtures import lemonsqueezy as ls

from syndic.api import billing, problems, webhooks
from syndic.db.engine import Database
from syndic.events import EventHub
from syndic.runtime import Runtime
from syndic.security.crypto import CredentialBox
from syndic.services import keys


@dataclass
class Api:
    client: httpx.AsyncClient
    rt: Runtime

    async def key_for(self, user_id: str) -> dict[str, str]:
        secret = self.rt.settings.api_token_secret.get_secret_value()
        plaintext, _ = await keys.issue(
            self.rt.db, secret, user_id, name="test", actor="test"
        )
        return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
async def api(db: Database, lemon: ServedEmulator) -> AsyncIterator[Api]:
    settings = lemon.settings
    rt = Runtime(
        settings=settings,
        db=db,
        http=httpx.AsyncClient(),
        box=CredentialBox(settings.credentials_key.get_secret_value()),
        adapters={},
        events=EventHub(),
        owns_db=False,
    )
    app = FastAPI()
    app.state.runtime = rt
    problems.install(app)
    app.include_router(webhooks.router)
    app.include_router(billing.router)

    try:
        async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield Api(client, rt)
    finally:
        await rt.close()


async def _post_event(api: Api, name: str) -> httpx.Response:
    raw = ls.body(name)
    return await api.client.post(
        "/v1/webhooks/lemon", content=raw, headers=ls.headers(raw)
    )


async def test_a_signed_event_is_200_and_its_repeat_too(
    api: Api, make_user: MakeUser
) -> None:
    await make_user()

    first = await _post_event(api, "subscription_created")
    again = await _post_event(api, "subscription_created")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["status"] == "processed"
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"meta":{"event_name":"order_created","webhook_id":"a\\u0000b"}}',
    ],
    ids=["nested", "nul"],
)
async def test_any_signed_body_is_200(api: Api, raw: bytes) -> None:
    response = await api.client.post(
        "/v1/webhooks/lemon", content=raw, headers=ls.headers(raw, event_name="x")
    )

    assert response.status_code == 200
    assert response.json()["status"] in ("failed", "ignored")


async def test_an_unsigned_or_reencoded_event_is_401(api: Api) -> None:
    raw = ls.body("subscription_created")
    signature = {"X-Signature": ls.signature("subscription_created")}

    unsigned = await api.client.post("/v1/webhooks/lemon", content=raw)
    reencoded = await api.client.post(
        "/v1/webhooks/lemon", json=json.loads(raw), headers=signature
    )

    assert (unsigned.status_code, reencoded.status_code) == (401, 401)
    assert unsigned.json()["error"]["code"] == "invalid_signature"


async def test_checkout_status_and_portal_for_a_user(
    api: Api, lemon: ServedEmulator, make_user: MakeUser
) -> None:
    headers = await api.key_for(await make_user())

    checkout = await api.client.post(
        "/v1/billing/checkout", json={"tier": "max"}, headers=headers
    )
    await _post_event(api, "subscription_created")
    lemon.state.register_subscription(
        ls.SUBSCRIPTION_ID, ls.document("subscription_created")["data"]["attributes"]
    )
    status = await api.client.get("/v1/billing/status", headers=headers)
    portal = await api.client.get("/v1/billing/portal", headers=headers)
    again = await api.client.post(
        "/v1/billing/checkout", json={"tier": "max"}, headers=headers
    )

    assert checkout.status_code == 200
    assert "/checkout/custom/" in checkout.json()["url"]
    assert status.status_code == 200
    assert status.json()["tier"] == "pro"
    assert status.json()["subscription_status"] == "active"
    assert portal.status_code == 200
    assert portal.json()["url"].startswith("https://syndic-example.lemonsqueezy.com/")
    assert again.status_code == 409


async def test_billing_routes_need_an_api_key_and_a_known_tier(
    api: Api, make_user: MakeUser
) -> None:
    headers = await api.key_for(await make_user())

    anonymous = await api.client.get("/v1/billing/status")
    free_checkout = await api.client.post(
        "/v1/billing/checkout", json={"tier": "free"}, headers=headers
    )

    assert anonymous.status_code == 401
    assert free_checkout.status_code == 422


async def test_admins_list_failed_events_and_replay_them(
    api: Api, make_user: MakeUser
) -> None:
    admin = await api.key_for(
        await make_user("usr_admin", "admin@example.test", is_admin=True)
    )
    plain = await api.key_for(await make_user("usr_plain", "plain@example.test"))
    failed = (await _post_event(api, "subscription_created")).json()
    await make_user()

    forbidden = await api.client.get("/v1/admin/webhooks", headers=plain)
    listed = await api.client.get("/v1/admin/webhooks?status=failed", headers=admin)
    replayed = await api.client.post(
        f"/v1/admin/webhooks/{failed['event_id']}/replay", headers=admin
    )
    twice = await api.client.post(
        f"/v1/admin/webhooks/{failed['event_id']}/replay", headers=admin
    )

    assert forbidden.status_code == 403
    assert [event["id"] for event in listed.json()["events"]] == [failed["event_id"]]
    assert "no user matches" in listed.json()["events"][0]["last_error"]
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "processed"
    assert twice.status_code == 409
