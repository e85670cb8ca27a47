"""The caller's billing: checkout URL, customer portal URL, status."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from syndic import clock
from syndic.api.deps import CurrentUser, RuntimeDep
from syndic.billing import customer

router = APIRouter(prefix="/v1/billing", tags=["billing"])


class CheckoutBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: Literal["basic", "pro", "max"]


class LinkOut(BaseModel):
    url: str


class StatusOut(BaseModel):
    tier: str = Field(description="the tier in force now, referral bonus included")
    subscribed_tier: str
    subscription_status: str | None
    renews_at: datetime | None
    ends_at: datetime | None
    bonus_pro_until: datetime | None
    period_start: datetime
    period_end: datetime
    posts_used: int
    posts_limit: int | None = Field(description="null: no limit")
    posts_left: int | None
    image_posts_used: int
    image_posts_limit: int | None = Field(description="null: no limit")
    image_posts_left: int | None
    referral_code: str
    referrals: int


@router.post("/checkout")
async def checkout(body: CheckoutBody, user: CurrentUser, rt: RuntimeDep) -> LinkOut:
    """A Lemon Squeezy checkout for `tier`; 409 if already subscribed."""
    return LinkOut(url=await customer.create_checkout(rt.settings, user, body.tier))


@router.get("/portal")
async def portal(user: CurrentUser, rt: RuntimeDep) -> LinkOut:
    """A fresh customer-portal link (valid 24 h); 404 before any subscription."""
    return LinkOut(url=await customer.portal_url(rt.settings, user))


@router.get("/status")
async def status(user: CurrentUser, rt: RuntimeDep) -> StatusOut:
    """Tier, subscription, and the quota used and left in the current period."""
    found = await customer.status(rt.db, user, clock.now())
    return StatusOut.model_validate(vars(found))
