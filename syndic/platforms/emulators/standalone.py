"""The emulators as a server of their own (`syndic emulators`).

Besides every platform under `/<platform>`, it answers
`GET /_sandbox/requests` (what the platforms received, `?platform=` to
filter) and `DELETE /_sandbox/requests`, like a sandbox server does. An
optional latency delays every platform answer, as a real network would.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from syndic.platforms.emulators import create_app
from syndic.platforms.emulators.recorder import Recorder


def create_standalone(
    recorder: Recorder, *, strict_rate_limits: bool = True, latency: float = 0.0
) -> Starlette:
    platforms: ASGIApp = create_app(recorder, strict_rate_limits=strict_rate_limits)
    if latency > 0:
        platforms = _Delayed(platforms, latency)

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            recorder.clear()
            return Response(status_code=204)
        platform = request.query_params.get("platform")
        return JSONResponse({"requests": recorder.entries(platform=platform)})

    return Starlette(
        routes=[
            Route("/_sandbox/requests", requests, methods=["GET", "DELETE"]),
            Mount("/", app=platforms),
        ]
    )


class _Delayed:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)
