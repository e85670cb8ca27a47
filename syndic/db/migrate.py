"""Bring a database's schema up to date with the migrations shipped in syndic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from syndic.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database) -> None:
    """Apply every migration not yet applied (all heads)."""

    def run(connection: Connection) -> None:
        command.upgrade(_config(connection), "heads")

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


async def is_current(db: Database) -> bool:
    """True when the database is at the newest revision of every branch."""

    def check(connection: Connection) -> bool:
        heads = set(ScriptDirectory.from_config(_config()).get_heads())
        current = set(MigrationContext.configure(connection).get_current_heads())
        return current == heads

    async with db.engine.connect() as connection:
        return await connection.run_sync(check)


def revision(message: str, url: str) -> None:
    """Autogenerate a new migration against the database at `url` (for developers)."""
    import asyncio

    async def run() -> None:
        db = Database(url)

        def make(connection: Connection) -> None:
            command.revision(_config(connection), message=message, autogenerate=True)

        async with db.engine.begin() as connection:
            await connection.run_sync(make)
        await db.dispose()

    asyncio.run(run())
