"""`GET /v1/ws`: each of the caller's publish results, live (pro and max plans).

Authenticate with `Authorization: Bearer <key>` on the upgrade request, or,
where a client cannot set headers, with a first message
`{"type": "auth", "key": "<key>"}` within five seconds. Then every result
arrives as JSON: `{"type": "delivery", "post_id", "platform", "status",
"remote_id", "url", "error"}` per platform and `{"type": "post", "post_id",
"status"}` when a post is finished. A refused connection is closed with
code 4401 (no valid key) or 4403 (banned, or a plan without live results).
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


@router.websocket("/v1/ws")
async def live(socket: WebSocket) -> None:
    rt: Runtime = socket.app.state.runtime
    await socket.accept()
    user = await _authenticate(socket, rt)
    if user is None:
        return

    queue = rt.events.subscribe(user.id)
    log.info("live_connected", extra={"user_id": user.id})
    try:
        await socket.send_json({"type": "ready", "user_id": user.id})
        listener = asyncio.create_task(_until_closed(socket))
        while not listener.done():
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait(
                {getter, listener}, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                break
            await socket.send_json(getter.result())
    except WebSocketDisconnect:
        pass
    finally:
        rt.events.unsubscribe(user.id, queue)
        log.info("live_disconnected", extra={"user_id": user.id})


async def _authenticate(socket: WebSocket, rt: Runtime) -> User | None:
    secret = rt.settings.api_token_secret.get_secret_value()
    try:
        header = socket.headers.get("authorization")
        token = bearer_token(header) if header else await _first_message_key(socket)
        user, _ = await keys.authenticate(rt.db, secret, token)
    except errors.PermissionDenied as exc:
        await socket.close(code=4403, reason=exc.message)
        return None
    except (errors.AuthenticationFailed, errors.InvalidInput) as exc:
        await socket.close(code=4401, reason=exc.message)
        return None

    if not plans.PLANS[entitlement.effective_tier(user, clock.now())].live_results:
        await socket.close(code=4403, reason="live results need the pro or max plan")
        return None
    return user


async def _first_message_key(socket: WebSocket) -> str:
    try:
        raw = await asyncio.wait_for(socket.receive_text(), AUTH_WAIT)
        message: Any = json.loads(raw)
    except (TimeoutError, ValueError, KeyError, WebSocketDisconnect):
        raise errors.AuthenticationFailed(
            'send {"type": "auth", "key": ...} first'
        ) from None
    if (
        not isinstance(message, dict)
        or message.get("type") != "auth"
        or not isinstance(message.get("key"), str)
    ):
        raise errors.AuthenticationFailed('send {"type": "auth", "key": ...} first')
    return str(message["key"])


async def _until_closed(socket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await (
                socket.receive_text()
            )  # clients have nothing to say; wait for the close
