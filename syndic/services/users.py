"""Users as the product website and operators create and change them.

Every change is written to the audit log in the transaction that makes it:
`user_created`, then `tier_changed` or `user_updated` with the cause and each
changed field's before and after (the shape billing uses for its changes).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from syndic import clock, errors, plans
from syndic.db.engine import Database
from syndic.db.models import User
from syndic.db.repo import audit, users

log = logging.getLogger(__name__)


async def require(db: Database, user_id: str) -> User:
    """The user `user_id`, or `NotFound`."""
    async with db.transaction() as session:
        return await users.require(session, user_id)


async def upsert(
    db: Database,
    email: str,
    *,
    tier: str | None,
    is_admin: bool | None,
    referral_code: str | None,
    actor: str,
) -> tuple[User, bool]:
    """The user with `email`, created or brought to `tier` and `is_admin`.

    Returns the user and whether it was created. Idempotent by email: the
    same call twice changes nothing the second time. Fields given as None
    keep their value (a new user is free and not an admin). A referral code
    counts only when the user is created; an unknown one is ignored, since
    the website passes on whatever a visitor arrived with.
    """
    now = clock.now()
    async with db.transaction() as session:
        user = await users.by_email(session, email)
        if user is None:
            created = await _create(session, email, tier, is_admin, referral_code, now)
            if created is not None:
                await _record_created(session, created, actor, now)
                return created, True
            user = await _created_concurrently(session, email)

        await apply(
            session,
            user,
            tier=tier,
            is_admin=is_admin,
            actor=actor,
            cause="website",
            now=now,
        )
    return user, False


async def change_tier(
    db: Database, user_id: str, tier: str, *, actor: str, cause: str
) -> User:
    """Move `user_id` to `tier`, recording who did it and why."""
    now = clock.now()
    async with db.transaction() as session:
        user = await users.require(session, user_id)
        await apply(session, user, tier=tier, actor=actor, cause=cause, now=now)
    return user


async def apply(
    session: AsyncSession,
    user: User,
    *,
    actor: str,
    cause: str,
    now: datetime,
    tier: str | None = None,
    is_admin: bool | None = None,
) -> None:
    """Change `user` inside the caller's transaction and audit what changed.

    One entry per call, as billing writes them: `tier_changed` when the tier
    moved, else `user_updated`, with the cause and each field's before and
    after.
    """
    changes = await users.update(session, user, now=now, tier=tier, is_admin=is_admin)
    if not changes:
        return

    action = "tier_changed" if "tier" in changes else "user_updated"
    await audit.record(
        session,
        actor=actor,
        action=action,
        now=now,
        user_id=user.id,
        cause=cause,
        changes=changes,
    )
    log.info(
        action, extra={"user_id": user.id, "actor": actor, "fields": sorted(changes)}
    )


async def _create(
    session: AsyncSession,
    email: str,
    tier: str | None,
    is_admin: bool | None,
    referral_code: str | None,
    now: datetime,
) -> User | None:
    """A new user, or None if the email was taken concurrently."""
    referrer = None
    if referral_code:
        referrer = await users.by_referral_code(session, referral_code)
        if referrer is None:
            log.info("referral_code_unknown", extra={"referral_code": referral_code})
    try:
        return await users.create(
            session,
            email=email,
            tier=tier or plans.Tier.FREE.value,
            is_admin=bool(is_admin),
            now=now,
            referred_by=referrer.id if referrer is not None else None,
        )
    except errors.Conflict:
        return None


async def _created_concurrently(session: AsyncSession, email: str) -> User:
    user = await users.by_email(session, email)
    if user is None:
        raise errors.Conflict("the user could not be created; try again")
    return user


async def _record_created(
    session: AsyncSession, user: User, actor: str, now: datetime
) -> None:
    await audit.record(
        session,
        actor=actor,
        action="user_created",
        now=now,
        user_id=user.id,
        tier=user.tier,
        is_admin=user.is_admin,
        referred_by=user.referred_by,
    )
    log.info("user_created", extra={"user_id": user.id, "actor": actor})
