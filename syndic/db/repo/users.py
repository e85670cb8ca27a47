"""Users and bans."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from syndic import clock, errors
from syndic.db.models import Ban, User


async def create(
    session: AsyncSession,
    *,
    email: str,
    tier: str,
    is_admin: bool,
    now: datetime,
    referred_by: str | None = None,
) -> User:
    user = User(
        id=clock.new_id("usr"),
        email=email.strip().lower(),
        tier=tier,
        is_admin=is_admin,
        referral_code=secrets.token_hex(5),
        referred_by=referred_by,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise errors.Conflict(f"a user with email {user.email} exists") from None
    return user


async def get(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def require(session: AsyncSession, user_id: str) -> User:
    user = await get(session, user_id)
    if user is None:
        raise errors.NotFound(f"no user {user_id}")
    return user


async def by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(
        select(User).where(User.email == email.strip().lower())
    )
    return result.scalar_one_or_none()


async def by_referral_code(session: AsyncSession, code: str) -> User | None:
    result = await session.execute(select(User).where(User.referral_code == code))
    return result.scalar_one_or_none()


async def ban(
    session: AsyncSession, user_id: str, *, reason: str, by: str, now: datetime
) -> bool:
    """Ban `user_id`; False if the user was already banned."""
    if await ban_of(session, user_id) is not None:
        return False
    session.add(Ban(user_id=user_id, reason=reason, banned_by=by, created_at=now))
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        return False
    return True


async def unban(session: AsyncSession, user_id: str) -> bool:
    result = await session.execute(delete(Ban).where(Ban.user_id == user_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def ban_of(session: AsyncSession, user_id: str) -> Ban | None:
    """The ban on `user_id`, with its reason, author and time; None if not banned."""
    return await session.get(Ban, user_id)


async def update(
    session: AsyncSession,
    user: User,
    *,
    now: datetime,
    tier: str | None = None,
    is_admin: bool | None = None,
) -> dict[str, list[Any]]:
    """Set the given fields of `user`; what changed, as {field: [before, after]}."""
    wanted: dict[str, Any] = {"tier": tier, "is_admin": is_admin}
    changes: dict[str, list[Any]] = {}
    for name, value in wanted.items():
        if value is not None and getattr(user, name) != value:
            changes[name] = [getattr(user, name), value]
            setattr(user, name, value)
    if changes:
        user.updated_at = now
        await session.flush()
    return changes
