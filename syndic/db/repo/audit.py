"""The audit log: who did what security-relevant thing, when. Never a secret."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    now: datetime,
    user_id: str | None = None,
    **details: Any,
) -> None:
    session.add(
        AuditEntry(at=now, actor=actor, action=action, user_id=user_id, details=details)
    )


async def entries(
    session: AsyncSession,
    *,
    user_id: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return (await session.execute(query)).scalars().all()
