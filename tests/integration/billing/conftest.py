"""Billing over the real databases, and the Lemon Squeezy emulator on a socket."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from billing_support import (
    NOW,
    Deliver,
    MakeUser,
    ServedEmulator,
    UserOf,
    make_settings,
    serve_emulator,
)
from fixtures import lemonsqueezy as ls

from syndic import config
from syndic.billing import inbox
from syndic.db.engine import Database
from syndic.db.models import User
from syndic.db.repo import billing


@pytest.fixture
def settings() -> config.Settings:
    return make_settings()


@pytest.fixture
def deliver(db: Database, settings: config.Settings) -> Deliver:
    """Post a fixture (by name) or raw bytes to the webhook, signed, at `now`."""

    async def post(event: str | bytes, *, now: datetime = NOW) -> inbox.Receipt:
        raw = ls.body(event) if isinstance(event, str) else event
        return await inbox.receive(db, settings, raw, ls.headers(raw), now=now)

    return post


@pytest.fixture
def make_user(db: Database) -> MakeUser:
    """Store a user with a chosen id and email; returns the id."""

    async def create(
        user_id: str = ls.USER_ID,
        email: str = ls.EMAIL,
        *,
        referred_by: str | None = None,
        tier: str = "free",
        is_admin: bool = False,
        **fields: Any,
    ) -> str:
        async with db.transaction() as session:
            session.add(
                User(
                    id=user_id,
                    email=email,
                    tier=tier,
                    is_admin=is_admin,
                    referral_code=secrets.token_hex(5),
                    referred_by=referred_by,
                    created_at=NOW,
                    updated_at=NOW,
                    **fields,
                )
            )
        return user_id

    return create


@pytest.fixture
def user_of(db: Database) -> UserOf:
    """Read a user afresh from the database."""

    async def read(user_id: str = ls.USER_ID) -> User:
        async with db.transaction() as session:
            user = await billing.locked_user(session, user_id)
        assert user is not None
        return user

    return read


@pytest.fixture(scope="session")
async def served_lemon() -> AsyncIterator[ServedEmulator]:
    async with serve_emulator() as served:
        yield served


@pytest.fixture
def lemon(served_lemon: ServedEmulator) -> ServedEmulator:
    """The emulator on its socket, with no subscriptions and no checkouts yet."""
    served_lemon.state.subscriptions.clear()
    served_lemon.state.checkouts.clear()
    return served_lemon
