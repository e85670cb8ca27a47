"""Request dependencies: the runtime, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from syndic import errors
from syndic.db.models import User
from syndic.runtime import Runtime
from syndic.security import keys as key_format
from syndic.services import keys


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise errors.AuthenticationFailed("missing Authorization: Bearer <api key>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.AuthenticationFailed("expected Authorization: Bearer <api key>")
    return token.strip()


async def current_user(request: Request, rt: RuntimeDep) -> User:
    token = bearer_token(request.headers.get("authorization"))
    user, key_id = await keys.authenticate(
        rt.db, rt.settings.api_token_secret.get_secret_value(), token
    )
    if rt.last_used is not None:
        rt.last_used.touch(key_id)
    request.state.user_id = user.id
    request.state.key_prefix = key_format.prefix_of(token)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise errors.RoleRequired("this route is for administrators")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def internal_caller(request: Request, rt: RuntimeDep) -> None:
    presented = request.headers.get("x-internal-secret", "")
    expected = rt.settings.internal_api_secret.get_secret_value()
    if not key_format.equal_secrets(presented, expected):
        raise errors.AuthenticationFailed("missing or wrong X-Internal-Secret")


InternalCaller = Depends(internal_caller)
