"""Probes: liveness, readiness, and the auth test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from syndic import errors
from syndic.api.deps import CurrentUser, RuntimeDep

router = APIRouter()


@router.get("/health", tags=["probes"])
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", tags=["probes"])
async def ready(rt: RuntimeDep) -> dict[str, str]:
    """The database answers (503 otherwise)."""
    await rt.db.ping()
    if rt.scheduler is not None and rt.scheduler.stopping:
        raise errors.ServiceUnavailable("shutting down")
    return {"status": "ready", "database": rt.db.dialect}


@router.get("/v1/ping", tags=["account"])
async def ping(user: CurrentUser) -> dict[str, Any]:
    """Who the key belongs to."""
    return {
        "user_id": user.id,
        "email": user.email,
        "tier": user.tier,
        "admin": user.is_admin,
    }
