"""The ASGI application: routers, error mapping, request ids, lifespan."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from syndic import logs
from syndic.api import (
    accounts,
    admin,
    billing,
    health,
    internal,
    keys,
    live,
    media,
    posts,
    problems,
    ratelimit,
    sandbox,
    webhooks,
)
from syndic.api.body_limit import BodyLimit
from syndic.runtime import Runtime
from syndic.scheduler.loop import Scheduler
from syndic.scheduler.maintenance import Maintenance
from syndic.services.keys import LastUsed

log = logging.getLogger(__name__)

# a whole API key pasted into a URL is logged by its public prefix only
_KEY_IN_PATH = re.compile(r"(syn_live_[0-9a-fA-F]{8})[0-9a-fA-F]+")


def create_app(rt: Runtime, *, run_scheduler: bool = True) -> FastAPI:
    """The API (and, in sandbox mode, the emulators) around a built runtime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.last_used = LastUsed(rt.db)
        rt.last_used.start()
        maintenance = Maintenance(rt) if run_scheduler else None
        if not rt.settings.is_sqlite:
            await rt.events.listen(rt.settings.postgres_dsn)
        if run_scheduler:
            rt.scheduler = Scheduler(rt)
            await rt.scheduler.start()
        if maintenance is not None:
            await maintenance.start()
        try:
            yield
        finally:
            if maintenance is not None:
                await maintenance.stop()
            if rt.scheduler is not None:
                await rt.scheduler.stop()
            await rt.last_used.stop()
            await rt.close()

    app = FastAPI(
        title="syndic",
        version="0.1.0",
        summary="One post from a developer tool, published to up to nine platforms.",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    problems.install(app)
    ratelimit.install(app, rt.settings)
    app.add_middleware(BodyLimit, settings=rt.settings)
    app.middleware("http")(_request_context)

    for module in (
        health,
        keys,
        live,
        posts,
        media,
        accounts,
        billing,
        webhooks,
        admin,
        internal,
    ):
        app.include_router(module.router)
    if rt.recorder is not None:
        _mount_sandbox(app, rt)
    return app


def _mount_sandbox(app: FastAPI, rt: Runtime) -> None:
    """The emulators of every platform and of Lemon Squeezy, and what they received."""
    from syndic.billing import emulator as lemonsqueezy
    from syndic.platforms import emulators

    assert rt.recorder is not None
    settings = rt.settings
    store = lemonsqueezy.EmulatorState(
        api_key=settings.lemon_api_key.get_secret_value()
        if settings.lemon_api_key
        else "",
        store_id=settings.lemon_store_id or "1",
        variants=set(settings.lemon_variants) or {"700101", "700201", "700301"},
    )
    app.include_router(sandbox.router)
    app.mount("/_emulators/lemonsqueezy", lemonsqueezy.create_app(store))
    app.mount("/_emulators", emulators.create_app(rt.recorder))


async def _request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    rid = request.headers.get("x-request-id", "")
    if not (0 < len(rid) <= 64 and rid.isascii() and rid.replace("-", "").isalnum()):
        rid = secrets.token_hex(8)
    token = logs.request_id.set(rid)
    started = time.perf_counter()
    try:
        response = await call_next(request)
    finally:
        logs.request_id.reset(token)
    response.headers["X-Request-ID"] = rid
    if not request.url.path.startswith("/_emulators"):
        log.info(
            "http_request",
            extra={
                "request_id": rid,
                "method": request.method,
                "path": _KEY_IN_PATH.sub(r"\1…", request.url.path),
                "status": response.status_code,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    return response
