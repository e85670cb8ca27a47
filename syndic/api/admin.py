"""Operators: bans, quota resets, tiers, a user at a glance, the audit log.

Every route needs the API key of a user with the admin role; any other key
gets 403 `admin_required`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from syndic import plans
from syndic.api import deps
from syndic.api.deps import AdminUser, RuntimeDep
from syndic.api.keys import KeyOut
from syndic.db.models import AuditEntry, Ban, Post, User
from syndic.services import admin

router = APIRouter(
    prefix="/v1/admin", tags=["admin"], dependencies=[Depends(deps.admin_user)]
)

UserId = Annotated[str, Field(min_length=1, max_length=32)]


class BanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    reason: str = Field(min_length=1, max_length=500)


class BanOut(BaseModel):
    user_id: str
    banned: bool
    reason: str
    banned_by: str
    banned_at: datetime

    @classmethod
    def of(cls, row: Ban) -> BanOut:
        return cls(
            user_id=row.user_id,
            banned=True,
            reason=row.reason,
            banned_by=row.banned_by,
            banned_at=row.created_at,
        )


class UsageOut(BaseModel):
    period_start: datetime
    period_end: datetime
    posts_used: int
    image_posts_used: int
    posts_limit: int | None = Field(description="null: no limit")
    image_posts_limit: int | None = Field(description="null: no limit")

    @classmethod
    def of(cls, usage: admin.Usage) -> UsageOut:
        return cls(**vars(usage))


class QuotaResetOut(BaseModel):
    user_id: str
    usage: UsageOut


class TierBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: plans.Tier
    reason: str = Field(min_length=1, max_length=500)


class UserOut(BaseModel):
    id: str
    email: str
    tier: str
    admin: bool
    referral_code: str
    referred_by: str | None
    created_at: datetime
    subscription_status: str | None
    subscription_renews_at: datetime | None
    subscription_ends_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            tier=user.tier,
            admin=user.is_admin,
            referral_code=user.referral_code,
            referred_by=user.referred_by,
            created_at=user.created_at,
            subscription_status=user.subscription_status,
            subscription_renews_at=user.subscription_renews_at,
            subscription_ends_at=user.subscription_ends_at,
        )


class RecentPost(BaseModel):
    id: str
    status: str
    platforms: list[str]
    created_at: datetime
    release_at: datetime

    @classmethod
    def of(cls, post: Post) -> RecentPost:
        return cls(
            id=post.id,
            status=post.status,
            platforms=post.platforms,
            created_at=post.created_at,
            release_at=post.release_at,
        )


class UserOverview(BaseModel):
    user: UserOut
    usage: UsageOut
    keys: list[KeyOut] = Field(description="active keys, by prefix only")
    ban: BanOut | None
    recent_posts: list[RecentPost]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    user_id: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, row: AuditEntry) -> AuditOut:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            user_id=row.user_id,
            details=row.details,
        )


class AuditPage(BaseModel):
    entries: list[AuditOut]
    next_before: int | None = Field(
        description="pass as `before` for the next page; null on the last page"
    )


@router.post("/blacklist")
async def ban(body: BanBody, operator: AdminUser, rt: RuntimeDep) -> BanOut:
    """Ban a user: every key of theirs is refused from their next request on."""
    row = await admin.ban(rt.db, body.user_id, reason=body.reason, admin=operator)
    return BanOut.of(row)


@router.delete("/blacklist/{user_id}", status_code=204)
async def unban(user_id: str, operator: AdminUser, rt: RuntimeDep) -> None:
    """Lift a ban (404 if the user is not banned)."""
    await admin.unban(rt.db, user_id, admin=operator)


@router.post("/reset-quota/{user_id}")
async def reset_quota(
    user_id: str, operator: AdminUser, rt: RuntimeDep
) -> QuotaResetOut:
    """Give the user their whole allowance back for the current period."""
    usage = await admin.reset_quota(rt.db, user_id, admin=operator)
    return QuotaResetOut(user_id=user_id, usage=UsageOut.of(usage))


@router.get("/users/{user_id}")
async def user(user_id: str, rt: RuntimeDep) -> UserOverview:
    """The user, usage and limits this period, keys, ban and latest posts."""
    found = await admin.overview(rt.db, user_id)
    return UserOverview(
        user=UserOut.of(found.user),
        usage=UsageOut.of(found.usage),
        keys=[KeyOut.of(row) for row in found.keys],
        ban=BanOut.of(found.ban) if found.ban is not None else None,
        recent_posts=[RecentPost.of(post) for post in found.recent_posts],
    )


@router.put("/users/{user_id}/tier")
async def change_tier(
    user_id: str, body: TierBody, operator: AdminUser, rt: RuntimeDep
) -> UserOut:
    """Move a user to another plan by hand; the reason goes to the audit log."""
    changed = await admin.change_tier(
        rt.db, user_id, body.tier.value, reason=body.reason, admin=operator
    )
    return UserOut.of(changed)


@router.get("/audit")
async def audit(
    rt: RuntimeDep,
    user_id: Annotated[str | None, Query(max_length=32)] = None,
    before: Annotated[int | None, Query(ge=1, description="an entry id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Audit entries, newest first, optionally of one user."""
    rows = await admin.audit_entries(rt.db, user_id=user_id, before=before, limit=limit)
    return AuditPage(
        entries=[AuditOut.of(row) for row in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )
