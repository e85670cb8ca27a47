"""What operators do: ban and unban, reset a quota, change a tier, look a user
up and read the audit log.

Each act is written to the audit log, in the transaction that makes it, with
`admin:<user id>` as the actor. A ban takes effect on the user's next request
in every process: authentication reads the ban from the database each time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from syndic import clock, errors, plans
from syndic.db.engine import Database
from syndic.db.models import ApiKey, AuditEntry, Ban, Post, User
from syndic.db.repo import audit, keys, posts, quotas, users
from syndic.services import periods
from syndic.services import users as user_changes

log = logging.getLogger(__name__)

RECENT_POSTS = 10


@dataclass(frozen=True)
class Usage:
    """A quota period: what was used, what the plan allows (None: no limit)."""

    period_start: datetime
    period_end: datetime
    posts_used: int
    image_posts_used: int
    posts_limit: int | None
    image_posts_limit: int | None


@dataclass(frozen=True)
class Overview:
    user: User
    usage: Usage
    keys: Sequence[ApiKey]
    ban: Ban | None
    recent_posts: Sequence[Post]


def actor(admin: User) -> str:
    return f"admin:{admin.id}"


async def ban(db: Database, user_id: str, *, reason: str, admin: User) -> Ban:
    """Ban `user_id`; the ban in force (an existing one is kept as it is)."""
    if user_id == admin.id:
        raise errors.Conflict("an administrator cannot ban themselves")

    now = clock.now()
    async with db.transaction() as session:
        await users.require(session, user_id)
        created = await users.ban(
            session, user_id, reason=reason, by=actor(admin), now=now
        )
        if created:
            await audit.record(
                session,
                actor=actor(admin),
                action="user_banned",
                now=now,
                user_id=user_id,
                reason=reason,
            )
        current = await users.ban_of(session, user_id)

    if current is None:
        raise errors.Conflict(f"user {user_id} was unbanned meanwhile; try again")
    if created:
        log.info("user_banned", extra={"user_id": user_id, "actor": actor(admin)})
    return current


async def unban(db: Database, user_id: str, *, admin: User) -> None:
    now = clock.now()
    async with db.transaction() as session:
        await users.require(session, user_id)
        if not await users.unban(session, user_id):
            raise errors.NotFound(f"user {user_id} is not banned")
        await audit.record(
            session,
            actor=actor(admin),
            action="user_unbanned",
            now=now,
            user_id=user_id,
        )
    log.info("user_unbanned", extra={"user_id": user_id, "actor": actor(admin)})


async def reset_quota(db: Database, user_id: str, *, admin: User) -> Usage:
    """Give `user_id` their whole allowance back for the current period."""
    now = clock.now()
    async with db.transaction() as session:
        user = await users.require(session, user_id)
        start, end = periods.current(user, now)
        posts_used, image_posts_used = await quotas.used(session, user_id, start)
        await quotas.reset(session, user_id, start)
        await audit.record(
            session,
            actor=actor(admin),
            action="quota_reset",
            now=now,
            user_id=user_id,
            period_start=start.isoformat(),
            posts_used_before=posts_used,
            image_posts_used_before=image_posts_used,
        )
    log.info(
        "quota_reset",
        extra={"user_id": user_id, "actor": actor(admin), "posts_used": posts_used},
    )
    return _usage(user, start, end, 0, 0)


async def change_tier(
    db: Database, user_id: str, tier: str, *, reason: str, admin: User
) -> User:
    return await user_changes.change_tier(
        db, user_id, tier, actor=actor(admin), cause=reason
    )


async def overview(db: Database, user_id: str) -> Overview:
    """The user, their usage this period, active keys, ban and latest posts."""
    now = clock.now()
    async with db.transaction() as session:
        user = await users.require(session, user_id)
        start, end = periods.current(user, now)
        posts_used, image_posts_used = await quotas.used(session, user_id, start)
        return Overview(
            user=user,
            usage=_usage(user, start, end, posts_used, image_posts_used),
            keys=await keys.active(session, user_id),
            ban=await users.ban_of(session, user_id),
            recent_posts=await posts.recent(session, user_id, RECENT_POSTS),
        )


async def audit_entries(
    db: Database, *, user_id: str | None, before: int | None, limit: int
) -> Sequence[AuditEntry]:
    """Newest first; `before` is the id of the last entry of the previous page."""
    async with db.transaction() as session:
        return await audit.entries(session, user_id=user_id, before=before, limit=limit)


def _usage(
    user: User, start: datetime, end: datetime, posts_used: int, image_posts_used: int
) -> Usage:
    plan = plans.plan_for(user.tier)
    return Usage(
        period_start=start,
        period_end=end,
        posts_used=posts_used,
        image_posts_used=image_posts_used,
        posts_limit=plan.posts_per_period,
        image_posts_limit=plan.image_posts_per_period,
    )
