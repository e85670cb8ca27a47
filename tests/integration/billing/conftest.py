"""Billing over the real databases, and the Lemon Squeezy emulator on a socket."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from fixtures import lemonsqueezy as ls

from syndic import config
from syndic.billing import emulator, inbox
from syndic.db.engine import Database
from syndic.db.models import User
from syndic.db.repo import billing

# the fixtures' clock: just after the subscription was created
NOW = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)


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


@pytest.fixture
def settings() -> config.Settings:
    return make_settings()


Deliver = Callable[..., Awaitable[inbox.Receipt]]


@pytest.fixture
def deliver(db: Database, settings: config.Settings) -> Deliver:
    """Post a fixture (by name) or raw bytes to the webhook, signed, at `now`."""

    async def post(
        event: str | bytes,
        *,
        now: datetime = NOW,
        use_settings: config.Settings | None = None,
    ) -> inbox.Receipt:
        raw = ls.body(event) if isinstance(event, str) else event
        return await inbox.receive(
            db, use_settings or settings, raw, ls.headers(raw), now=now
        )

    return post


MakeUser = Callable[..., Awaitable[str]]


@pytest.fixture
def make_user(db: Database) -> MakeUser:
    """Store a user with a chosen id and email; returns the id."""

    async def create(
        user_id: str = ls.USER_ID,
        email: str = ls.EMAIL,
        *,
        referred_by: str | None = None,
        **fields: Any,
    ) -> str:
        async with db.transaction() as session:
            session.add(
                User(
                    id=user_id,
                    email=email,
                    tier=fields.pop("tier", "free"),
                    is_admin=False,
                    referral_code=secrets.token_hex(5),
                    referred_by=referred_by,
                    created_at=NOW,
                    updated_at=NOW,
                    **fields,
                )
            )
        return user_id

    return create


async def fetch_user(db: Database, user_id: str = ls.USER_ID) -> User:
    async with db.transaction() as session:
        user = await billing.locked_user(session, user_id)
    assert user is not None
    return user


UserOf = Callable[..., Awaitable[User]]


@pytest.fixture
def user_of(db: Database) -> UserOf:
    async def read(user_id: str = ls.USER_ID) -> User:
        return await fetch_user(db, user_id)

    return read


@dataclass
class ServedEmulator:
    url: str
    state: emulator.EmulatorState
    settings: config.Settings


@pytest.fixture
async def lemon() -> AsyncIterator[ServedEmulator]:
    """The Lemon Squeezy emulator served by uvicorn on 127.0.0.1 (a free port)."""
    state = emulator.EmulatorState(api_key="emulated-" + secrets.token_urlsafe(24))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(
            emulator.create_app(state), log_config=None, lifespan="off", ws="none"
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)

    try:
        yield ServedEmulator(
            url=url,
            state=state,
            settings=make_settings(lemon_base_url=url, lemon_api_key=state.api_key),
        )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
