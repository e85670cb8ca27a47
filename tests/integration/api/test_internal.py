"""Routes of the product website on a real socket, behind X-Internal-Secret."""

from __future__ import annotations

from typing import Any

import pytest
from support.server import Server

from syndic.db.models import AuditEntry
from syndic.db.repo import audit

TELEGRAM = {
    "credentials": {
        "bot_token": "123456:" + "A" * 35,
        "chat_id": "@syndic_news",
    },
    "label": "news channel",
}

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/internal/users", {"email": "a@example.test"}),
    ("POST", "/internal/keys/generate", {"user_id": "{user}", "name": "web"}),
    ("GET", "/internal/keys/{user}", None),
    ("DELETE", "/internal/keys/syn_live_00000000", None),
    ("PUT", "/internal/accounts/{user}/telegram", TELEGRAM),
]

# volatile headers: they differ from one answer to the next whatever was asked
VOLATILE = {"date", "x-request-id", "ratelimit-remaining", "ratelimit-reset"}


def _fill(value: Any, user_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("{user}", user_id)
    if isinstance(value, dict):
        return {k: _fill(v, user_id) for k, v in value.items()}
    return value


async def _entries(server: Server, user_id: str) -> list[AuditEntry]:
    async with server.rt.db.transaction() as session:
        return list(await audit.entries(session, user_id=user_id))


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "secret_header",
    [{}, {"X-Internal-Secret": "x" * 48}, {"X-Internal-Secret": ""}],
    ids=["missing", "wrong", "empty"],
)
async def test_internal_route_without_the_secret_is_unauthorized(
    server: Server,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    secret_header: dict[str, str],
) -> None:
    user_id = await server.user()

    answer = await server.client.request(
        method,
        _fill(path, user_id),
        json=_fill(body, user_id),
        headers=secret_header,
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


async def test_bearer_key_does_not_open_internal_routes(server: Server) -> None:
    user_id, key = await server.user_with_key(admin=True)

    answer = await server.client.get(f"/internal/keys/{user_id}", headers=key)

    assert answer.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_unauthorized_answer_is_the_same_whether_the_user_exists(
    server: Server, method: str, path: str, body: dict[str, Any] | None
) -> None:
    user_id = await server.user(email="a@example.test")
    await server.key(user_id)
    wrong = {"X-Internal-Secret": "y" * 48}

    answers = [
        await server.client.request(
            method, _fill(path, who), json=_fill(body, who), headers=wrong
        )
        for who in (user_id, "usr_000000000000000000000000")
    ]

    first, second = answers
    assert first.status_code == second.status_code == 401
    assert first.content == second.content
    assert {k: v for k, v in first.headers.items() if k not in VOLATILE} == {
        k: v for k, v in second.headers.items() if k not in VOLATILE
    }


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/internal/users", b"{not json"),
        ("POST", "/internal/users", b'{"email": 5, "surprise": true}'),
        ("POST", "/internal/keys/generate", b"[]"),
        ("PUT", "/internal/accounts/usr_x/not-a-platform", b"{}"),
        ("GET", "/internal/keys/" + "u" * 500, b""),
    ],
)
async def test_secret_is_checked_before_the_request_is_validated(
    server: Server, website: dict[str, str], method: str, path: str, content: bytes
) -> None:
    headers = {"Content-Type": "application/json"}

    without = await server.client.request(
        method, path, content=content, headers=headers
    )
    with_secret = await server.client.request(
        method, path, content=content, headers=headers | website
    )

    assert without.status_code == 401
    assert with_secret.status_code in (404, 422)


async def test_create_user_then_same_call_changes_nothing(
    server: Server, website: dict[str, str]
) -> None:
    body = {"email": "New.Person@Example.test", "tier": "basic"}

    created = await server.client.post("/internal/users", json=body, headers=website)
    again = await server.client.post("/internal/users", json=body, headers=website)

    assert created.status_code == 201, created.text
    assert again.status_code == 200
    assert again.json() == created.json()
    user = created.json()
    assert user["email"] == "new.person@example.test"
    assert (user["tier"], user["admin"]) == ("basic", False)
    assert [e.action for e in await _entries(server, user["id"])] == ["user_created"]


async def test_update_user_changes_only_what_is_given(
    server: Server, website: dict[str, str]
) -> None:
    created = await server.client.post(
        "/internal/users",
        json={"email": "p@example.test", "tier": "pro"},
        headers=website,
    )
    user_id = created.json()["id"]

    updated = await server.client.post(
        "/internal/users",
        json={"email": "p@example.test", "admin": True},
        headers=website,
    )

    assert updated.status_code == 200
    assert (updated.json()["tier"], updated.json()["admin"]) == ("pro", True)
    newest = (await _entries(server, user_id))[0]
    assert newest.action == "user_updated"
    assert newest.actor == "internal"
    assert newest.details == {
        "cause": "website",
        "changes": {"is_admin": [False, True]},
    }


async def test_tier_change_from_website_is_audited(
    server: Server, website: dict[str, str]
) -> None:
    user_id = await server.user(tier="free", email="t@example.test")

    await server.client.post(
        "/internal/users",
        json={"email": "t@example.test", "tier": "max"},
        headers=website,
    )

    newest = (await _entries(server, user_id))[0]
    assert (newest.action, newest.actor) == ("tier_changed", "internal")
    assert newest.details == {"cause": "website", "changes": {"tier": ["free", "max"]}}


async def test_referral_code_counts_at_creation_only(
    server: Server, website: dict[str, str]
) -> None:
    referrer = await server.client.post(
        "/internal/users", json={"email": "ref@example.test"}, headers=website
    )
    code = referrer.json()["referral_code"]

    referred = await server.client.post(
        "/internal/users",
        json={"email": "new@example.test", "referral_code": code},
        headers=website,
    )
    unknown = await server.client.post(
        "/internal/users",
        json={"email": "other@example.test", "referral_code": "nope"},
        headers=website,
    )
    later = await server.client.post(
        "/internal/users",
        json={"email": "other@example.test", "referral_code": code},
        headers=website,
    )

    assert referred.json()["referred_by"] == referrer.json()["id"]
    assert unknown.status_code == 201
    assert unknown.json()["referred_by"] is None
    assert later.json()["referred_by"] is None


async def test_invalid_user_body_is_invalid_input(
    server: Server, website: dict[str, str]
) -> None:
    answer = await server.client.post(
        "/internal/users",
        json={"email": "not an email", "tier": "gold"},
        headers=website,
    )

    assert answer.status_code == 422
    fields = {p["location"][-1] for p in answer.json()["error"]["details"]}
    assert fields == {"email", "tier"}


async def test_keys_generate_list_and_revoke(
    server: Server, website: dict[str, str]
) -> None:
    user_id = await server.user()

    generated = await server.client.post(
        "/internal/keys/generate",
        json={"user_id": user_id, "name": "website"},
        headers=website,
    )

    assert generated.status_code == 201, generated.text
    key = generated.json()["key"]
    prefix = generated.json()["prefix"]
    bearer = {"Authorization": f"Bearer {key}"}
    assert (await server.client.get("/v1/ping", headers=bearer)).json()[
        "user_id"
    ] == user_id

    listed = await server.client.get(f"/internal/keys/{user_id}", headers=website)
    assert listed.status_code == 200
    assert [k["prefix"] for k in listed.json()["keys"]] == [prefix]
    assert key not in listed.text

    revoked = await server.client.delete(f"/internal/keys/{prefix}", headers=website)
    assert revoked.status_code == 200
    assert (await server.client.get("/v1/ping", headers=bearer)).status_code == 401
    gone = await server.client.delete(f"/internal/keys/{prefix}", headers=website)
    assert gone.status_code == 404
    actions = [(e.action, e.actor) for e in await _entries(server, user_id)]
    assert actions == [("key_revoked", "internal"), ("key_generated", "internal")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/internal/keys/generate", {"user_id": "usr_missing", "name": "x"}),
        ("GET", "/internal/keys/usr_missing", None),
        ("PUT", "/internal/accounts/usr_missing/telegram", TELEGRAM),
    ],
)
async def test_unknown_user_is_not_found_with_the_secret(
    server: Server,
    website: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    answer = await server.client.request(method, path, json=body, headers=website)

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


async def test_store_account_tokens_for_a_user(
    server: Server, website: dict[str, str]
) -> None:
    user_id, key = await server.user_with_key()

    stored = await server.client.put(
        f"/internal/accounts/{user_id}/telegram", json=TELEGRAM, headers=website
    )

    assert stored.status_code == 200, stored.text
    assert stored.json()["source"] == "stored"
    assert stored.json()["label"] == "news channel"
    assert TELEGRAM["credentials"]["bot_token"] not in stored.text
    accounts = await server.client.get("/v1/accounts", headers=key)
    assert [a["platform"] for a in accounts.json()["accounts"]] == ["telegram"]
    newest = (await _entries(server, user_id))[0]
    assert (newest.action, newest.actor) == ("credentials_stored", "internal")


async def test_store_account_with_bad_tokens_is_invalid_input(
    server: Server, website: dict[str, str]
) -> None:
    user_id = await server.user()

    answer = await server.client.put(
        f"/internal/accounts/{user_id}/telegram",
        json={"credentials": {"bot_token": "nope"}},
        headers=website,
    )

    assert answer.status_code == 422
    assert "nope" not in answer.text
