"""The billing migration builds exactly the billing tables the models declare."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from syndic.db.engine import Database
from syndic.db.models import Base

BILLING_TABLES = {"webhook_events", "referral_credits"}


def _about_billing(diff: Any) -> bool:
    text = repr(diff)
    return any(table in text for table in BILLING_TABLES) or "bonus_pro_until" in text


async def test_migrated_billing_schema_matches_the_models(db: Database) -> None:
    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [diff for diff in compare_metadata(context, Base.metadata)]

    async with db.engine.connect() as connection:
        diffs = await connection.run_sync(compare)

    assert [diff for diff in diffs if _about_billing(diff)] == []


async def test_the_inbox_dedupe_key_and_referred_user_are_unique(db: Database) -> None:
    def constraints(connection: Connection) -> tuple[Any, Any]:
        inspector = inspect(connection)
        return (
            inspector.get_unique_constraints("webhook_events"),
            inspector.get_pk_constraint("referral_credits"),
        )

    async with db.engine.connect() as connection:
        unique, primary = await connection.run_sync(constraints)

    assert [item["column_names"] for item in unique] == [["dedupe_key"]]
    assert primary["constrained_columns"] == ["referred_user_id"]
