"""The product website, server to server, behind `X-Internal-Secret`.

The secret is compared in constant time before FastAPI reads or validates
anything of the request, so a caller without it gets the same 401 whatever
it sends: it cannot learn whether a user exists, nor what a body should look
like. Acts are audited with the actor `internal`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from syndic import errors, plans
from syndic.api import deps
from syndic.api.accounts import AccountOut, CredentialsBody
from syndic.api.admin import UserOut
from syndic.api.deps import RuntimeDep
from syndic.api.keys import KeyList, KeyOut, NewKeyOut
from syndic.platforms.base import Platform
from syndic.services import accounts, keys, users

log = logging.getLogger(__name__)

ACTOR = "internal"


class _SecretFirst(APIRoute):
    """A route that checks the internal secret before its body is even read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                await deps.internal_caller(request, deps.runtime(request))
            except errors.AuthenticationFailed:
                log.warning(
                    "internal_secret_rejected", extra={"path": request.url.path}
                )
                raise
            return await handler(request)

        return guarded


# the router dependency states the contract in the route table; _SecretFirst
# makes it hold before body validation
router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    route_class=_SecretFirst,
    dependencies=[deps.InternalCaller],
)

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
UserId = Annotated[str, Field(min_length=1, max_length=32)]


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    tier: plans.Tier | None = Field(default=None, description="omit to keep")
    admin: bool | None = Field(default=None, description="omit to keep")
    referral_code: str | None = Field(
        default=None,
        max_length=16,
        description="the referrer's code; counts only when the user is created",
    )


class KeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    name: str = Field(default="", max_length=100)


@router.post("/users", responses={201: {"model": UserOut}})
async def upsert_user(body: UserBody, response: Response, rt: RuntimeDep) -> UserOut:
    """Create the user with this email (201), or update their tier or role (200)."""
    user, created = await users.upsert(
        rt.db,
        body.email,
        tier=body.tier.value if body.tier is not None else None,
        is_admin=body.admin,
        referral_code=body.referral_code,
        actor=ACTOR,
    )
    response.status_code = 201 if created else 200
    return UserOut.of(user)


@router.post("/keys/generate", status_code=201)
async def generate_key(body: KeyBody, rt: RuntimeDep) -> NewKeyOut:
    """A new key for the user; the plaintext is in this answer only."""
    secret = rt.settings.api_token_secret.get_secret_value()
    plaintext, row = await keys.issue(
        rt.db, secret, body.user_id, name=body.name, actor=ACTOR
    )
    return NewKeyOut(key=plaintext, **KeyOut.of(row).model_dump())


@router.get("/keys/{user_id}")
async def list_keys(user_id: str, rt: RuntimeDep) -> KeyList:
    """The user's active keys, by prefix (404 for an unknown user)."""
    await users.require(rt.db, user_id)
    return KeyList(keys=[KeyOut.of(row) for row in await keys.active(rt.db, user_id)])


@router.delete("/keys/{prefix}")
async def revoke_key(prefix: str, rt: RuntimeDep) -> KeyOut:
    return KeyOut.of(await keys.revoke(rt.db, prefix, actor=ACTOR))


@router.put("/accounts/{user_id}/{platform}")
async def store_account(
    user_id: str, platform: Platform, body: CredentialsBody, rt: RuntimeDep
) -> AccountOut:
    """Store a user's platform tokens after the website's OAuth dance."""
    await users.require(rt.db, user_id)
    await accounts.store(
        rt,
        user_id,
        platform,
        body.credentials,
        label=body.label,
        expires_at=body.expires_at,
        actor=ACTOR,
    )
    rows = await accounts.listing(rt, user_id)
    return AccountOut(**next(r for r in rows if r["platform"] == platform))
