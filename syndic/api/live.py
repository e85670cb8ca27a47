"""`GET /v1/ws`: each of the caller's publish results, live (pro and max plans).

Authenticate with `Authorization: Bearer <key>` on the upgrade request, or,
where a client cannot set headers, with a first message
`{"type": "auth", "key": "<key>"}` within five seconds. Then every result
arrives as JSON: `{"type": "delivery", "post_id", "platform", "status",
"remote_id", "url", "error"}` per platform and `{"type": "post", "post_id",
"status"}` when a post is finished. A refused connection is closed with
code 4401 (no valid key) or 4403 (banned, or a plan without live results);
an open stream is closed the same way within half a minute of its key being
revoked or its user banned.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from syndic import clock, errors, plans
from syndic.api.deps import bearer_token
from syndic.billing import entitlement
from syndic.db.models import User
from syndic.runtime import Runtime
from syndic.services import keys

log = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

AUTH_WAIT = 5.0  # seconds
RECHECK = 30.0  # seconds between checks that the key is still good


@router.websocket("/v1/ws")
async def live(socket: WebSocket) -> None:
    rt: Runtime = socket.app.state.runtime
    await socket.accept()
    token = await _token(socket)
    if token is None:
        return
    user = await _authenticate(socket, rt, token)
    if user is None:
        return

    queue = rt.events.subscribe(user.id)
    log.info("live_connected", extra={"user_id": user.id})
    listener = asyncio.create_task(_until_closed(socket))
    try:
        await socket.send_json({"type": "ready", "user_id": user.id})
        while not listener.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait(
                {getter, listener}, timeout=RECHECK, return_when=asyncio.FIRST_COMPLETED
            )
            if getter in done:
                await socket.send_json(getter.result())
                continue
            getter.cancel()
            # a key revoked or a user banned meanwhile ends the stream
            if not done and await _authenticate(socket, rt, token) is None:
                break
    except WebSocketDisconnect:
        pass
    finally:
        listener.cancel()
        rt.events.unsubscribe(user.id, queue)
        log.info("live_disconnected", extra={"user_id": user.id})


async def _token(socket: WebSocket) -> str | None:
    try:
        header = socket.headers.get("authorization")
        return bearer_token(header) if header else await _first_message_key(socket)
    except errors.AuthenticationFailed as exc:
        await _close(socket, 4401, exc.message)
        return None


async def _authenticate(socket: WebSocket, rt: Runtime, token: str) -> User | None:
    secret = rt.settings.api_token_secret.get_secret_value()
    try:
        user, _ = await keys.authenticate(rt.db, secret, token)
    except errors.PermissionDenied as exc:
        await _close(socket, 4403, exc.message)
        return None
    except errors.AuthenticationFailed as exc:
        await _close(socket, 4401, exc.message)
        return None

    if not plans.PLANS[entitlement.effective_tier(user, clock.now())].live_results:
        await _close(socket, 4403, "live results need the pro or max plan")
        return None
    return user


async def _first_message_key(socket: WebSocket) -> str:
    refusal = errors.AuthenticationFailed('send {"type": "auth", "key": ...} first')
    try:
        frame = await asyncio.wait_for(socket.receive(), AUTH_WAIT)
        message: Any = json.loads(frame.get("text") or "null")
    except (TimeoutError, ValueError, WebSocketDisconnect, RuntimeError):
        raise refusal from None
    if (
        not isinstance(message, dict)
        or message.get("type") != "auth"
        or not isinstance(message.get("key"), str)
    ):
        raise refusal
    return str(message["key"])


async def _until_closed(socket: WebSocket) -> None:
    # clients have nothing to say; read (text or binary) until they close
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            frame = await socket.receive()
            if frame["type"] == "websocket.disconnect":
                return


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    # the client may already be gone
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await socket.close(code=code, reason=reason)
