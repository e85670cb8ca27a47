"""The webhook inbox: verified deliveries stored before they are answered.

`store` is one `INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`, so two
deliveries of one event, even at the same instant, leave one row. `claim`
locks a row for processing (`FOR UPDATE` on PostgreSQL; SQLite runs one
writer at a time), so an event is applied by one transaction at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import WebhookEvent
from syndic.db.repo import _dialect


async def store(
    session: AsyncSession,
    *,
    dedupe_key: str,
    event_name: str,
    resource_type: str | None,
    resource_id: str | None,
    webhook_id: str | None,
    test_mode: bool,
    body_sha256: str,
    body: bytes,
    now: datetime,
) -> int | None:
    """Store a delivery as `received`; its id, or None if the key is known."""
    statement = (
        _dialect.insert(session, WebhookEvent)
        .values(
            dedupe_key=dedupe_key,
            event_name=event_name,
            resource_type=resource_type,
            resource_id=resource_id,
            webhook_id=webhook_id,
            test_mode=test_mode,
            body_sha256=body_sha256,
            body=body,
            status="received",
            attempts=0,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=[WebhookEvent.dedupe_key])
        .returning(WebhookEvent.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def by_dedupe_key(session: AsyncSession, dedupe_key: str) -> WebhookEvent | None:
    query = select(WebhookEvent).where(WebhookEvent.dedupe_key == dedupe_key)
    return (await session.execute(query)).scalar_one_or_none()


async def get(session: AsyncSession, event_id: int) -> WebhookEvent | None:
    return await session.get(WebhookEvent, event_id)


async def claim(
    session: AsyncSession, event_id: int, statuses: Collection[str]
) -> WebhookEvent | None:
    """Lock the event for processing if its status is one of `statuses`."""
    query = (
        select(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status.in_(statuses))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def finish(
    session: AsyncSession,
    event_id: int,
    *,
    status: str,
    note: str,
    user_id: str | None,
    now: datetime,
) -> None:
    """Record one processing attempt's outcome; `note` is the error if it failed."""
    failed = status == "failed"
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id)
        .values(
            status=status,
            attempts=WebhookEvent.attempts + 1,
            note=None if failed else note,
            last_error=note if failed else None,
            user_id=func.coalesce(user_id, WebhookEvent.user_id),
            processed_at=None if failed else now,
        )
    )


async def record_failure(
    session: AsyncSession, event_id: int, *, error: str, now: datetime
) -> None:
    """Mark an attempt that crashed; a processed event is left alone."""
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id == event_id, WebhookEvent.status != "processed")
        .values(
            status="failed",
            attempts=WebhookEvent.attempts + 1,
            last_error=error,
            processed_at=None,
        )
    )


async def page(
    session: AsyncSession,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> Sequence[WebhookEvent]:
    """Events newest first, optionally of one status, below id `before`."""
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookEvent.status == status)
    if before is not None:
        query = query.where(WebhookEvent.id < before)
    return (await session.execute(query)).scalars().all()


async def unprocessed(
    session: AsyncSession, *, received_before: datetime, limit: int
) -> Sequence[int]:
    """Ids of events still `received` (their processing never finished)."""
    query = (
        select(WebhookEvent.id)
        .where(
            WebhookEvent.status == "received",
            WebhookEvent.received_at < received_before,
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()
