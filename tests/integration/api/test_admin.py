"""Operator routes on a real socket: roles, bans, quota resets, a user's view,
the audit log."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from support.server import Server, serve
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from syndic import clock
from syndic.api import deps
from syndic.api.app import create_app
from syndic.db.engine import Database
from syndic.db.repo import quotas, users
from syndic.services import periods

DISCORD = {
    "credentials": {
        "webhook_url": "https://discord.com/api/webhooks/123456789012345678/" + "a" * 68
    }
}

# /v1 routes that do not take an API key, each for a reason
NOT_KEYED = {"/v1/webhooks/lemon"}  # signed by Lemon Squeezy instead

ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/admin/blacklist", {"user_id": "usr_x", "reason": "spam"}),
    ("DELETE", "/v1/admin/blacklist/usr_x", None),
    ("POST", "/v1/admin/reset-quota/usr_x", None),
    ("GET", "/v1/admin/users/usr_x", None),
    ("PUT", "/v1/admin/users/usr_x/tier", {"tier": "pro", "reason": "support"}),
    ("GET", "/v1/admin/audit", None),
]


async def _call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_without_key_is_unauthorized(
    server: Server, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = await _call(server.client, method, path, body)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_with_plain_user_key_is_admin_required(
    server: Server, method: str, path: str, body: dict[str, Any] | None
) -> None:
    _, plain = await server.user_with_key(tier="max")

    answer = await _call(server.client, method, path, body, plain)

    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "admin_required"


async def test_ban_stops_every_key_of_the_user_and_unban_restores_them(
    server: Server,
) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id, first = await server.user_with_key()
    second = {"Authorization": f"Bearer {await server.key(user_id)}"}
    assert (await server.client.get("/v1/ping", headers=first)).status_code == 200

    banned = await server.client.post(
        "/v1/admin/blacklist",
        json={"user_id": user_id, "reason": "spam"},
        headers=admin,
    )

    assert banned.status_code == 200, banned.text
    assert banned.json()["banned"] is True
    assert banned.json()["reason"] == "spam"
    for headers in (first, second):
        refused = await server.client.get("/v1/ping", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "user_banned"

    lifted = await server.client.delete(f"/v1/admin/blacklist/{user_id}", headers=admin)

    assert lifted.status_code == 204
    for headers in (first, second):
        assert (await server.client.get("/v1/ping", headers=headers)).status_code == 200


def _needs_key(dependant: Dependant) -> bool:
    return any(
        sub.call is deps.current_user or _needs_key(sub)
        for sub in dependant.dependencies
    )


def _example_path(path: str) -> str:
    return re.sub(
        r"\{(\w+)\}",
        lambda m: "discord" if m.group(1) == "platform" else "x1",
        path,
    )


async def _websocket_refused(url: str, headers: dict[str, str]) -> bool:
    try:
        async with connect(url, additional_headers=headers, open_timeout=5) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except InvalidStatus:
        return True
    except ConnectionClosed as closed:
        return closed.rcvd is None or closed.rcvd.code != 1000
    except TimeoutError:
        return False
    return False


@dataclass(frozen=True)
class _Route:
    path: str
    methods: frozenset[str]
    dependant: Dependant
    websocket: bool


def _routes(server: Server) -> list[_Route]:
    """The /v1 routes of the app as the factory builds it, webhooks aside."""
    app = create_app(server.rt, run_scheduler=False)
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if not isinstance(route, APIRoute | APIWebSocketRoute):
            continue
        if path.startswith("/v1/") and path not in NOT_KEYED:
            found.append(
                _Route(
                    path,
                    frozenset(context.methods or ()),
                    context.dependant,
                    isinstance(route, APIWebSocketRoute),
                )
            )
    return found


def test_every_v1_http_route_takes_an_api_key(server: Server) -> None:
    # a WebSocket route may take its key from the first message, so it is
    # checked by what it does (below), not by its dependencies
    unkeyed = [
        r.path
        for r in _routes(server)
        if not r.websocket and not _needs_key(r.dependant)
    ]

    assert not unkeyed, f"/v1 routes without an API key: {unkeyed}"


async def test_banned_user_is_refused_on_every_keyed_route(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id, banned = await server.user_with_key()
    await server.client.post(
        "/v1/admin/blacklist", json={"user_id": user_id, "reason": "x"}, headers=admin
    )
    routes = _routes(server)
    assert len(routes) > 10

    for route in routes:
        path = _example_path(route.path)
        if route.websocket:
            ws_url = server.url.replace("http", "ws", 1) + path
            assert await _websocket_refused(ws_url, banned), route.path
            continue
        for method in sorted(route.methods):
            answer = await server.client.request(method, path, headers=banned, json={})
            assert answer.status_code == 403, (method, route.path, answer.text)
            assert answer.json()["error"]["code"] == "user_banned"


async def test_ban_holds_at_once_in_another_server_process(db: Database) -> None:
    other_db = Database(db.url)
    try:
        async with serve(db, sandbox=False, run_scheduler=False) as first:
            secret = first.rt.settings.api_token_secret.get_secret_value()
            async with serve(
                other_db,
                sandbox=False,
                run_scheduler=False,
                api_token_secret=secret,
            ) as second:
                _, admin = await first.user_with_key(admin=True)
                user_id, key = await first.user_with_key()
                assert (await second.client.get("/v1/ping", headers=key)).is_success

                await first.client.post(
                    "/v1/admin/blacklist",
                    json={"user_id": user_id, "reason": "abuse"},
                    headers=admin,
                )
                refused = await second.client.get("/v1/ping", headers=key)

                assert refused.status_code == 403
                assert refused.json()["error"]["code"] == "user_banned"
    finally:
        await other_db.dispose()


async def test_banning_twice_keeps_the_first_ban(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id = await server.user()
    body = {"user_id": user_id, "reason": "first"}
    first = await server.client.post("/v1/admin/blacklist", json=body, headers=admin)

    again = await server.client.post(
        "/v1/admin/blacklist",
        json={"user_id": user_id, "reason": "second"},
        headers=admin,
    )

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["reason"] == "first"


async def test_ban_of_unknown_user_is_not_found(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)

    answer = await server.client.post(
        "/v1/admin/blacklist",
        json={"user_id": "usr_missing", "reason": "x"},
        headers=admin,
    )

    assert answer.status_code == 404


async def test_unban_of_a_user_not_banned_is_not_found(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id = await server.user()

    answer = await server.client.delete(f"/v1/admin/blacklist/{user_id}", headers=admin)

    assert answer.status_code == 404
    assert "not banned" in answer.json()["error"]["message"]


async def test_admin_cannot_ban_themselves(server: Server) -> None:
    admin_id, admin = await server.user_with_key(admin=True)

    answer = await server.client.post(
        "/v1/admin/blacklist",
        json={"user_id": admin_id, "reason": "oops"},
        headers=admin,
    )

    assert answer.status_code == 409
    assert (await server.client.get("/v1/ping", headers=admin)).status_code == 200


async def test_ban_without_reason_is_invalid(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id = await server.user()

    answer = await server.client.post(
        "/v1/admin/blacklist", json={"user_id": user_id}, headers=admin
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_input"


async def _use_quota(db: Database, user_id: str, posts: int, images: int) -> None:
    async with db.transaction() as session:
        user = await users.require(session, user_id)
        start, _ = periods.current(user, clock.now())
        for index in range(posts):
            assert await quotas.consume(
                session,
                user_id=user_id,
                period_start=start,
                image=index < images,
                post_limit=None,
                image_limit=None,
            )


async def test_reset_quota_gives_the_current_period_back(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id = await server.user(tier="free")
    await _use_quota(server.rt.db, user_id, posts=7, images=2)

    answer = await server.client.post(f"/v1/admin/reset-quota/{user_id}", headers=admin)

    assert answer.status_code == 200, answer.text
    usage = answer.json()["usage"]
    assert (usage["posts_used"], usage["image_posts_used"]) == (0, 0)
    assert (usage["posts_limit"], usage["image_posts_limit"]) == (100, 10)
    start = datetime.fromisoformat(usage["period_start"])
    assert start <= datetime.now(UTC) < datetime.fromisoformat(usage["period_end"])
    view = await server.client.get(f"/v1/admin/users/{user_id}", headers=admin)
    assert view.json()["usage"]["posts_used"] == 0
    audit = await server.client.get(
        "/v1/admin/audit", params={"user_id": user_id}, headers=admin
    )
    entry = audit.json()["entries"][0]
    assert entry["action"] == "quota_reset"
    assert entry["details"]["posts_used_before"] == 7
    assert entry["details"]["image_posts_used_before"] == 2


async def test_reset_quota_of_unknown_user_is_not_found(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)

    answer = await server.client.post(
        "/v1/admin/reset-quota/usr_missing", headers=admin
    )

    assert answer.status_code == 404


async def test_user_view_shows_usage_keys_by_prefix_ban_and_recent_posts(
    server: Server,
) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id, headers = await server.user_with_key(tier="free")
    plaintext = headers["Authorization"].removeprefix("Bearer ")
    await server.client.put("/v1/accounts/discord", json=DISCORD, headers=headers)
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    post = await server.client.post(
        "/v1/posts/schedule",
        json={"text": "hello", "platforms": ["discord"], "scheduled_at": due},
        headers=headers,
    )
    assert post.status_code == 201, post.text
    await server.client.post(
        "/v1/admin/blacklist",
        json={"user_id": user_id, "reason": "testing"},
        headers=admin,
    )

    answer = await server.client.get(f"/v1/admin/users/{user_id}", headers=admin)

    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["user"]["id"] == user_id
    assert view["user"]["tier"] == "free"
    assert view["usage"]["posts_used"] == 1
    assert view["usage"]["posts_limit"] == 100
    assert [k["prefix"] for k in view["keys"]] == [plaintext[:17]]
    assert set(view["keys"][0]) == {"prefix", "name", "created_at", "last_used_at"}
    assert plaintext not in answer.text
    assert view["ban"]["reason"] == "testing"
    assert view["ban"]["banned_by"].startswith("admin:")
    assert [p["id"] for p in view["recent_posts"]] == [post.json()["id"]]


async def test_user_view_of_unknown_user_is_not_found(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)

    answer = await server.client.get("/v1/admin/users/usr_missing", headers=admin)

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


async def test_tier_change_by_admin_is_audited_with_reason(server: Server) -> None:
    admin_id, admin = await server.user_with_key(admin=True)
    user_id = await server.user(tier="free")

    answer = await server.client.put(
        f"/v1/admin/users/{user_id}/tier",
        json={"tier": "pro", "reason": "conference speaker"},
        headers=admin,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["tier"] == "pro"
    audit = await server.client.get(
        "/v1/admin/audit", params={"user_id": user_id}, headers=admin
    )
    change = next(e for e in audit.json()["entries"] if e["action"] == "tier_changed")
    assert change["actor"] == f"admin:{admin_id}"
    assert change["details"] == {
        "cause": "conference speaker",
        "changes": {"tier": ["free", "pro"]},
    }


async def test_audit_pages_run_newest_first_until_the_end(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)
    user_id = await server.user()
    other = await server.user()
    for _ in range(5):
        await server.key(user_id)
    await server.key(other)

    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"user_id": user_id, "limit": 2}
        if before is not None:
            params["before"] = before
        page = await server.client.get("/v1/admin/audit", params=params, headers=admin)
        assert page.status_code == 200, page.text
        entries = page.json()["entries"]
        assert all(e["user_id"] == user_id for e in entries)
        seen += [e["id"] for e in entries]
        before = page.json()["next_before"]
        if before is None:
            break

    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


async def test_audit_limit_is_bounded(server: Server) -> None:
    _, admin = await server.user_with_key(admin=True)

    answer = await server.client.get(
        "/v1/admin/audit", params={"limit": 10_000}, headers=admin
    )

    assert answer.status_code == 422
