"""Platform accounts of the calling user: credentials in, never out."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from syndic.api.deps import CurrentUser, RuntimeDep
from syndic.platforms.base import Platform
from syndic.services import accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class CredentialsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credentials: dict[str, Any] = Field(description="platform-specific; see the README")
    label: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


class AccountOut(BaseModel):
    platform: str
    source: Literal["stored", "sandbox"]
    label: str
    expires_at: datetime | None
    updated_at: datetime | None


class AccountList(BaseModel):
    accounts: list[AccountOut]


@router.put("/{platform}")
async def store(
    platform: Platform, body: CredentialsBody, user: CurrentUser, rt: RuntimeDep
) -> AccountOut:
    """Store (or replace) credentials, encrypted at rest."""
    await accounts.store(
        rt,
        user.id,
        platform,
        body.credentials,
        label=body.label,
        expires_at=body.expires_at,
        actor=f"user:{user.id}",
    )
    rows = await accounts.listing(rt, user.id)
    return AccountOut(**next(r for r in rows if r["platform"] == platform))


@router.get("")
async def listing(user: CurrentUser, rt: RuntimeDep) -> AccountList:
    return AccountList(
        accounts=[AccountOut(**row) for row in await accounts.listing(rt, user.id)]
    )


@router.delete("/{platform}", status_code=204)
async def forget(platform: Platform, user: CurrentUser, rt: RuntimeDep) -> None:
    await accounts.forget(rt, user.id, platform, actor=f"user:{user.id}")
