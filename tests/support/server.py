"""A syndic server on a real loopback socket, inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from support.net import listener
from syndic import clock, config, runtime
from syndic.api.app import create_app
from syndic.db.engine import Database
from syndic.db.repo import users
from syndic.platforms.emulators.recorder import Recorder
from syndic.runtime import Runtime
from syndic.services import keys


def test_settings(database_url: str, **overrides: Any) -> config.Settings:
    """Settings with random strong secrets, as a test would configure syndic."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "api_token_secret": secrets.token_hex(32),
        "internal_api_secret": secrets.token_hex(32),
        "lemon_webhook_secret": secrets.token_hex(32),
        "credentials_key": secrets.token_hex(32),
        "lemon_api_key": "sandbox-" + secrets.token_hex(16),
        "lemon_store_id": "90001",
        "lemon_variants": "basic=700101,pro=700201,max=700301",
        "log_format": "text",
        "publish_processes": 0,  # platform calls in the test's own process
    }
    values.update(overrides)
    return config.Settings(_env_file=None, **values)


@dataclass
class Server:
    url: str
    rt: Runtime
    client: httpx.AsyncClient
    app: FastAPI

    async def user(
        self, *, tier: str = "max", admin: bool = False, email: str | None = None
    ) -> str:
        async with self.rt.db.transaction() as session:
            user = await users.create(
                session,
                email=email or f"{secrets.token_hex(4)}@example.test",
                tier=tier,
                is_admin=admin,
                now=clock.now(),
            )
        return user.id

    async def key(self, user_id: str) -> str:
        secret = self.rt.settings.api_token_secret.get_secret_value()
        plaintext, _ = await keys.issue(
            self.rt.db, secret, user_id, name="test", actor="test"
        )
        return plaintext

    async def user_with_key(self, **kwargs: Any) -> tuple[str, dict[str, str]]:
        user_id = await self.user(**kwargs)
        return user_id, {"Authorization": f"Bearer {await self.key(user_id)}"}


@contextlib.asynccontextmanager
async def serve(
    db: Database, *, sandbox: bool = True, run_scheduler: bool = True, **overrides: Any
) -> AsyncIterator[Server]:
    """Serve syndic on 127.0.0.1 (a free port) over `db`, emulators included."""
    with contextlib.closing(listener()) as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        overrides.setdefault("scheduler_tick", 2.0)
        settings = test_settings(db.url, sandbox=sandbox, **overrides)
        rt = runtime.build(
            settings, emulator_root=f"{url}/_emulators" if sandbox else None, db=db
        )
        if sandbox:
            rt.recorder = Recorder()
        app = create_app(rt, run_scheduler=run_scheduler)
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                yield Server(url, rt, client, app)
        finally:
            server.should_exit = True
            await task
