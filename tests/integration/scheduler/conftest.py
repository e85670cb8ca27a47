"""A runtime whose platforms are scripted fakes, over the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from support.fakes import FakeAdapter
from support.server import test_settings

from syndic.db.engine import Database
from syndic.events import EventHub
from syndic.runtime import Runtime
from syndic.security.crypto import CredentialBox

PLATFORMS = ("discord", "telegram")


@pytest.fixture
async def rt(db: Database) -> AsyncIterator[Runtime]:
    settings = test_settings(db.url)
    built = Runtime(
        settings=settings,
        db=db,
        http=httpx.AsyncClient(),
        box=CredentialBox(settings.credentials_key.get_secret_value()),
        adapters={name: FakeAdapter(name) for name in PLATFORMS},
        events=EventHub(),
        sandbox_credentials={name: {"token": "t"} for name in PLATFORMS},
        owns_db=False,
    )
    yield built
    await built.close()
