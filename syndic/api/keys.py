"""API keys of the calling user."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from syndic.api.deps import CurrentUser, RuntimeDep
from syndic.db.models import ApiKey
from syndic.services import keys

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=100)


class KeyOut(BaseModel):
    prefix: str
    name: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyOut:
        return cls(
            prefix=row.prefix,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself. Shown this once; store it now.")


class KeyList(BaseModel):
    keys: list[KeyOut]


@router.post("/generate", status_code=201)
async def generate(
    user: CurrentUser, rt: RuntimeDep, body: KeyRequest | None = None
) -> NewKeyOut:
    secret = rt.settings.api_token_secret.get_secret_value()
    name = body.name if body else ""
    plaintext, row = await keys.issue(
        rt.db, secret, user.id, name=name, actor=f"user:{user.id}"
    )
    return NewKeyOut(key=plaintext, **KeyOut.of(row).model_dump())


@router.get("")
async def listing(user: CurrentUser, rt: RuntimeDep) -> KeyList:
    return KeyList(keys=[KeyOut.of(row) for row in await keys.active(rt.db, user.id)])


@router.delete("/{prefix}")
async def revoke(prefix: str, user: CurrentUser, rt: RuntimeDep) -> KeyOut:
    row = await keys.revoke(rt.db, prefix, actor=f"user:{user.id}", user_id=user.id)
    return KeyOut.of(row)
