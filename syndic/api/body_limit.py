"""Request bodies larger than a route can use are refused before they are read.

A declared `Content-Length` over the limit is answered 413 at once; a
chunked body is counted as it arrives, cut off at the limit, and answered
413 whatever the route made of the truncated body. Limits: media uploads take
`media_max_bytes`, posts (which may carry small files inline) 16 MiB,
everything else 1 MiB.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syndic.api import problems
from syndic.config import Settings

MiB = 1024 * 1024
POSTS_LIMIT = 16 * MiB
DEFAULT_LIMIT = 1 * MiB


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.media_limit = settings.media_max_bytes + MiB  # multipart framing

    def limit_for(self, path: str) -> int:
        if path == "/v1/media":
            return self.media_limit
        if path.startswith("/v1/posts/"):
            return POSTS_LIMIT
        return DEFAULT_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulators"):
            await self.app(scope, receive, send)
            return

        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return

        seen = 0
        over = False

        async def counted() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            # once the body was cut off, whatever the app answers becomes a 413
            if not over:
                await send(message)
            elif message["type"] == "http.response.start":
                await _refuse(send, limit)

        await self.app(scope, counted, answered)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        problems.body("payload_too_large", f"the request body exceeds {limit} bytes")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
