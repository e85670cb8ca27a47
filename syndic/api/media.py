"""Media uploads: an image or video stored once, then named by posts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, UploadFile
from pydantic import BaseModel

from syndic import errors
from syndic.api.deps import CurrentUser, RuntimeDep
from syndic.services import media

router = APIRouter(prefix="/v1/media", tags=["media"])


class MediaOut(BaseModel):
    id: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    alt: str
    created_at: datetime


@router.post("", status_code=201)
async def upload(
    file: UploadFile,
    user: CurrentUser,
    rt: RuntimeDep,
    alt: Annotated[str, Form(max_length=2000)] = "",
) -> MediaOut:
    """Upload one file (multipart field `file`); its type is read from its bytes."""
    limit = rt.settings.media_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise errors.InvalidInput(
            f"the file is larger than {limit} bytes",
            details={"rule": "media.too_large"},
        )
    row = await media.upload(rt, user.id, data, alt=alt)
    return MediaOut(
        id=row.id,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        alt=row.alt,
        created_at=row.created_at,
    )
