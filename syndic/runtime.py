"""Everything a running syndic process holds, built once at start."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from syndic.config import Settings
from syndic.db.engine import Database
from syndic.events import EventHub
from syndic.platforms import registry
from syndic.platforms.base import Adapter
from syndic.security.crypto import CredentialBox

if TYPE_CHECKING:
    from syndic.platforms.emulators.recorder import Recorder
    from syndic.scheduler.loop import Scheduler
    from syndic.services.keys import LastUsed


@dataclass
class Runtime:
    settings: Settings
    db: Database
    http: httpx.AsyncClient
    box: CredentialBox
    adapters: dict[str, Adapter]
    events: EventHub
    sandbox_credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    emulator_root: str | None = None  # where the sandbox's emulators answer
    recorder: Recorder | None = None
    scheduler: Scheduler | None = None
    last_used: LastUsed | None = None
    owns_db: bool = True

    async def close(self) -> None:
        await self.events.close()
        await self.http.aclose()
        if self.owns_db:
            await self.db.dispose()


def build(
    settings: Settings, *, emulator_root: str | None = None, db: Database | None = None
) -> Runtime:
    """Wire the parts; `emulator_root` is where sandbox emulators answer.

    A `db` passed in stays open when the runtime closes.
    """
    http = platform_client(settings)
    sandbox = settings.sandbox and emulator_root is not None
    if sandbox and "lemon_base_url" not in settings.model_fields_set:
        settings = settings.model_copy(
            update={"lemon_base_url": f"{emulator_root}/lemonsqueezy"}
        )
    events = EventHub()
    if not settings.is_sqlite:
        events.announce_through_database()
    return Runtime(
        settings=settings,
        db=db or Database(settings.database_url),
        owns_db=db is None,
        http=http,
        box=CredentialBox(settings.credentials_key.get_secret_value()),
        adapters=registry.build(
            settings, http, emulator_root=emulator_root if sandbox else None
        ),
        events=events,
        sandbox_credentials=registry.sandbox_credentials() if sandbox else {},
        emulator_root=emulator_root if sandbox else None,
    )


def freeze_startup_heap() -> None:
    """Leave what exists now (modules, tables, settings, the runtime) out of
    the garbage collector's full passes.

    Those objects live as long as the process; scanning them made each full
    pass take tens of milliseconds, long enough to make the scheduler's
    timers late. Called once, when a process has finished starting.
    """
    gc.collect()
    gc.freeze()


def platform_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client adapters call their platforms with."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.platform_timeout, connect=5.0),
        headers={"User-Agent": "syndic/0.1 (self-hosted publishing backend)"},
        follow_redirects=False,
    )
