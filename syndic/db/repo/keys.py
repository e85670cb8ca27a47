"""API keys: stored digests, lookup by prefix, revocation and last use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from syndic.db.models import ApiKey, Ban, User
from syndic.security.keys import NewKey


@dataclass(frozen=True)
class KeyOwner:
    key_id: int
    key_digest: str
    user: User
    banned: bool


async def add(
    session: AsyncSession, user_id: str, key: NewKey, *, name: str, now: datetime
) -> ApiKey | None:
    """Store `key`; None if its prefix is already taken (generate another)."""
    row = ApiKey(
        user_id=user_id,
        prefix=key.prefix,
        key_hash=key.digest,
        name=name,
        created_at=now,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        return None
    return row


async def owner_of(session: AsyncSession, prefix: str) -> KeyOwner | None:
    """The active key with `prefix`, its user and whether the user is banned.

    One indexed query: the key, the user and the ban check together.
    """
    banned = exists().where(Ban.user_id == ApiKey.user_id)
    query = (
        select(ApiKey.id, ApiKey.key_hash, User, banned.label("banned"))
        .join(User, User.id == ApiKey.user_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    return KeyOwner(row.id, row.key_hash, row.User, bool(row.banned))


async def active(session: AsyncSession, user_id: str) -> Sequence[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return (await session.execute(query)).scalars().all()


async def revoke(
    session: AsyncSession, prefix: str, *, now: datetime, user_id: str | None = None
) -> ApiKey | None:
    """Revoke the active key `prefix` (of `user_id` if given); the key or None."""
    query = update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    result = await session.execute(query.values(revoked_at=now).returning(ApiKey))
    return result.scalar_one_or_none()


async def record_use(session: AsyncSession, last_used: Mapping[int, datetime]) -> None:
    for key_id, at in last_used.items():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < at))
            .values(last_used_at=at)
        )
