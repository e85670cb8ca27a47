"""A served syndic without scheduler or emulators, and the website's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from support.server import Server, serve

from syndic.db.engine import Database


@pytest.fixture
async def server(db: Database) -> AsyncIterator[Server]:
    async with serve(db, sandbox=False, run_scheduler=False) as running:
        yield running


@pytest.fixture
def website(server: Server) -> dict[str, str]:
    """The headers the product website sends."""
    secret = server.rt.settings.internal_api_secret.get_secret_value()
    return {"X-Internal-Secret": secret}
