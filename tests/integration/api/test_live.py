"""Live results over WebSocket, from whichever process published them."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import pytest
import websockets
from support.server import Server, serve

from syndic.api import live
from syndic.db.engine import Database


async def next_event(socket: Any, kind: str, within: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == kind:
                return message


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/ws"


async def test_a_max_user_sees_each_platform_result_as_it_happens(db: Database) -> None:
    async with serve(db, scheduler_tick=3600, scheduler_lease=4000) as server:
        _, headers = await server.user_with_key(tier="max")
        async with websockets.connect(
            ws_url(server), additional_headers=headers
        ) as socket:
            assert json.loads(await socket.recv())["type"] == "ready"
            post = await server.client.post(
                "/v1/posts/schedule",
                headers=headers,
                json={"text": "live", "platforms": ["discord", "telegram"]},
            )
            first = await next_event(socket, "delivery")
            second = await next_event(socket, "delivery")
            finished = await next_event(socket, "post")

    assert {first["platform"], second["platform"]} == {"discord", "telegram"}
    assert first["post_id"] == post.json()["id"]
    assert first["status"] == "published"
    assert first["url"]
    assert finished["status"] == "published"


async def test_results_published_by_another_process_reach_the_client(
    db: Database,
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite runs syndic as a single process")
    shared = {"api_token_secret": secrets.token_hex(32)}
    async with (
        serve(db, run_scheduler=False, **shared) as front,
        serve(db, scheduler_tick=3600, scheduler_lease=4000, **shared) as back,
    ):
        _, headers = await front.user_with_key(tier="max")
        async with websockets.connect(
            ws_url(front), additional_headers=headers
        ) as socket:
            await socket.recv()
            await back.client.post(
                "/v1/posts/schedule",
                headers=headers,
                json={"text": "elsewhere", "platforms": ["discord"]},
            )
            event = await next_event(socket, "delivery")

    assert event["status"] == "published"


async def test_a_key_can_also_come_as_the_first_message(db: Database) -> None:
    async with serve(db, run_scheduler=False) as server:
        _, headers = await server.user_with_key(tier="max")
        key = headers["Authorization"].split()[1]
        async with websockets.connect(ws_url(server)) as socket:
            await socket.send(json.dumps({"type": "auth", "key": key}))
            assert json.loads(await socket.recv())["type"] == "ready"


@pytest.mark.parametrize(
    ("tier", "headers", "code"),
    [
        ("free", None, 4403),
        ("basic", None, 4403),
        ("max", {"Authorization": "Bearer syn_live_bogus"}, 4401),
    ],
)
async def test_refused_connections_are_closed_with_a_reason(
    db: Database, tier: str, headers: dict[str, str] | None, code: int
) -> None:
    async with serve(db, run_scheduler=False) as server:
        _, own = await server.user_with_key(tier=tier)
        async with websockets.connect(
            ws_url(server), additional_headers=headers or own
        ) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


async def test_a_revoked_key_ends_the_stream(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "RECHECK", 0.2)
    async with serve(db, run_scheduler=False) as server:
        _, headers = await server.user_with_key(tier="max")
        prefix = headers["Authorization"].split()[1][:17]
        async with websockets.connect(
            ws_url(server), additional_headers=headers
        ) as socket:
            await socket.recv()
            await server.client.delete(f"/v1/keys/{prefix}", headers=headers)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    await socket.recv()

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_binary_frames_and_early_goodbyes_are_harmless(db: Database) -> None:
    async with serve(db, run_scheduler=False) as server:
        _, headers = await server.user_with_key(tier="max")
        async with websockets.connect(
            ws_url(server), additional_headers=headers
        ) as socket:
            await socket.recv()
            await socket.send(b"\x00\x01binary")
            await socket.send("hello")
        async with websockets.connect(ws_url(server)):
            pass  # gone before authenticating
        async with websockets.connect(
            ws_url(server), additional_headers=headers
        ) as socket:
            assert json.loads(await socket.recv())["type"] == "ready"
