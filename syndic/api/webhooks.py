"""Lemon Squeezy webhooks in, and the admin view of the webhook inbox.

`POST /v1/webhooks/lemon` carries no API key: the `X-Signature` over the
raw body is its credential, so the body is read as bytes and handed over
untouched (see `syndic.billing.inbox`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from syndic.api import deps
from syndic.api.deps import AdminUser, RuntimeDep
from syndic.billing import inbox

router = APIRouter(tags=["billing"])
admin = APIRouter(
    prefix="/v1/admin/webhooks",
    tags=["admin"],
    dependencies=[Depends(deps.admin_user)],
)

Status = Literal["received", "processed", "ignored", "failed"]


class ReceiptOut(BaseModel):
    event_id: int
    duplicate: bool
    status: Status


class EventOut(BaseModel):
    id: int
    event_name: str
    status: Status
    attempts: int
    resource_type: str | None
    resource_id: str | None
    webhook_id: str | None
    test_mode: bool
    user_id: str | None
    note: str | None
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, view: inbox.EventView) -> EventOut:
        return cls.model_validate(vars(view))


class EventList(BaseModel):
    events: list[EventOut]


@router.post("/v1/webhooks/lemon")
async def lemon(request: Request, rt: RuntimeDep) -> ReceiptOut:
    """A Lemon Squeezy event: 401 unless signed, 200 once stored (repeats too)."""
    body = await request.body()
    receipt = await inbox.receive(rt.db, rt.settings, body, request.headers)
    return ReceiptOut.model_validate(vars(receipt))


@admin.get("")
async def listing(
    rt: RuntimeDep,
    status: Status | None = None,
    before: Annotated[int | None, Query(ge=1, description="an event id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EventList:
    """Stored events newest first, e.g. `?status=failed` for those to look at."""
    views = await inbox.listing(rt.db, status=status, before=before, limit=limit)
    return EventList(events=[EventOut.of(view) for view in views])


@admin.post("/{event_id}/replay")
async def replay(event_id: int, user: AdminUser, rt: RuntimeDep) -> EventOut:
    """Process a failed or ignored event again; 409 if it was processed."""
    view = await inbox.replay(rt.db, rt.settings, event_id, actor=f"admin:{user.id}")
    return EventOut.of(view)


router.include_router(admin)
