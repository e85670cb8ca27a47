"""Helpers shared by the billing integration tests (fixtures are in conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fixtures import lemonsqueezy as ls
from starlette.types import ASGIApp
from support.net import listener

from syndic import config
from syndic.billing import emulator, inbox
from syndic.db.models import User

# the fixtures' clock: just after the subscription was created
NOW = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)

Deliver = Callable[..., Awaitable[inbox.Receipt]]
MakeUser = Callable[..., Awaitable[str]]
UserOf = Callable[..., Awaitable[User]]


def make_settings(**overrides: Any) -> config.Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite:///unused.db",
        "api_token_secret": secrets.token_hex(24),
        "internal_api_secret": secrets.token_hex(24),
        "credentials_key": secrets.token_hex(24),
        "lemon_webhook_secret": ls.SECRET,
        "lemon_api_key": "emulated-" + secrets.token_urlsafe(24),
        "lemon_store_id": "90001",
        "lemon_variants": dict(ls.VARIANTS),
    }
    values.update(overrides)
    return config.Settings(_env_file=None, **values)


@dataclass
class ServedEmulator:
    url: str
    state: emulator.EmulatorState
    settings: config.Settings


@contextlib.asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (a free port); yields its base URL."""
    sock = listener()
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)

    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@contextlib.asynccontextmanager
async def serve_emulator() -> AsyncIterator[ServedEmulator]:
    """The Lemon Squeezy emulator on a loopback socket, and settings that use it."""
    state = emulator.EmulatorState(api_key="emulated-" + secrets.token_urlsafe(24))
    async with serve(emulator.create_app(state)) as url:
        settings = make_settings(lemon_base_url=url, lemon_api_key=state.api_key)
        yield ServedEmulator(url=url, state=state, settings=settings)
