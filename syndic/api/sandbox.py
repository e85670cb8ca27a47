"""What the emulated platforms received (sandbox mode only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from syndic import errors
from syndic.api.deps import RuntimeDep
from syndic.platforms.base import Platform

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@router.get("/requests")
async def requests(
    rt: RuntimeDep,
    platform: Platform | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, list[dict[str, Any]]]:
    """Oldest first: platform, received_at, method, path and body of each request."""
    if rt.recorder is None:
        raise errors.NotFound("not running in sandbox mode")
    return {"requests": rt.recorder.entries(platform=platform, limit=limit)}


@router.delete("/requests", status_code=204)
async def clear(rt: RuntimeDep) -> None:
    if rt.recorder is None:
        raise errors.NotFound("not running in sandbox mode")
    rt.recorder.clear()
