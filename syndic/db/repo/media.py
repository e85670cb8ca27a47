"""Uploaded media files."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import MediaFile


async def add(session: AsyncSession, media: MediaFile) -> MediaFile:
    session.add(media)
    await session.flush()
    return media


async def of_user(
    session: AsyncSession, user_id: str, ids: Sequence[str]
) -> list[MediaFile]:
    """The user's files with these ids, in the order asked; missing ones left out."""
    if not ids:
        return []
    query = select(MediaFile).where(MediaFile.user_id == user_id, MediaFile.id.in_(ids))
    found = {m.id: m for m in (await session.execute(query)).scalars()}
    return [found[i] for i in ids if i in found]
