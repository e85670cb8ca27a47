"""Platform credentials, stored sealed (see `syndic.security.crypto`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import PlatformAccount
from syndic.db.repo import _dialect


async def store(
    session: AsyncSession,
    *,
    user_id: str,
    platform: str,
    ciphertext: bytes,
    label: str,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    values = {
        "ciphertext": ciphertext,
        "label": label,
        "expires_at": expires_at,
        "updated_at": now,
    }
    await session.execute(
        _dialect.insert(session, PlatformAccount)
        .values(user_id=user_id, platform=platform, created_at=now, **values)
        .on_conflict_do_update(
            index_elements=[PlatformAccount.user_id, PlatformAccount.platform],
            set_=values,
        )
    )


async def of_user(session: AsyncSession, user_id: str) -> Sequence[PlatformAccount]:
    query = (
        select(PlatformAccount)
        .where(PlatformAccount.user_id == user_id)
        .order_by(PlatformAccount.platform)
    )
    return (await session.execute(query)).scalars().all()


async def forget(session: AsyncSession, user_id: str, platform: str) -> bool:
    result = await session.execute(
        delete(PlatformAccount).where(
            PlatformAccount.user_id == user_id, PlatformAccount.platform == platform
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
