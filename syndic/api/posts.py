"""Posts: schedule, dry-run, list, read, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndic import errors
from syndic.api.deps import CurrentUser, RuntimeDep
from syndic.db.models import Post
from syndic.db.repo import posts as post_rows
from syndic.platforms.base import PLATFORMS, Platform
from syndic.services import media, posts

router = APIRouter(prefix="/v1/posts", tags=["posts"])

Status = Literal[
    "pending", "dispatched", "published", "partially_failed", "failed", "cancelled"
]


class InlineMedia(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str = Field(description="the file, base64-encoded", max_length=70_000_000)
    alt: str = Field(default="", max_length=2000)


class PostBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=100_000)
    platforms: list[Platform] = Field(min_length=1, max_length=len(PLATFORMS))
    scheduled_at: str | None = Field(
        default=None,
        max_length=64,
        description="RFC 3339 with an offset; omit to publish now",
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone, when scheduled_at is a local time",
    )
    options: dict[Platform, dict[str, Any]] = Field(default_factory=dict)
    texts: dict[Platform, str] = Field(
        default_factory=dict, description="per-platform text"
    )
    media: list[Annotated[str, Field(max_length=64)] | InlineMedia] = Field(
        default_factory=list,
        max_length=10,
        description="ids from POST /v1/media, or files inline",
    )

    @field_validator("platforms")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each platform may appear once")
        return value

    def request(self) -> posts.PostRequest:
        return posts.PostRequest(
            text=self.text,
            platforms=self.platforms,
            scheduled_at=self.scheduled_at,
            timezone=self.timezone,
            options={str(k): v for k, v in self.options.items()},
            texts={str(k): v for k, v in self.texts.items()},
            media=[
                ref if isinstance(ref, str) else media.Inline(ref.data, ref.alt)
                for ref in self.media
            ],
        )


class Accepted(BaseModel):
    id: str
    status: str
    scheduled_at: datetime
    release_at: datetime
    platforms: list[str]

    @classmethod
    def of(cls, post: Post) -> Accepted:
        return cls(
            id=post.id,
            status=post.status,
            scheduled_at=post.scheduled_at,
            release_at=post.release_at,
            platforms=post.platforms,
        )


class DeliveryOut(BaseModel):
    platform: str
    status: str
    attempts: int
    remote_id: str | None
    url: str | None
    error: dict[str, Any] | None
    started_at: datetime | None
    answered_at: datetime | None


class PostOut(BaseModel):
    id: str
    status: str
    text: str
    platforms: list[str]
    scheduled_at: datetime
    release_at: datetime
    created_at: datetime
    publish_started_at: datetime | None
    finished_at: datetime | None
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, view: post_rows.PostView) -> PostOut:
        post = view.post
        return cls(
            id=post.id,
            status=post.status,
            text=post.text,
            platforms=post.platforms,
            scheduled_at=post.scheduled_at,
            release_at=post.release_at,
            created_at=post.created_at,
            publish_started_at=post.publish_started_at,
            finished_at=post.finished_at,
            deliveries=[
                DeliveryOut(
                    platform=d.platform,
                    status=d.status,
                    attempts=d.attempts,
                    remote_id=d.remote_id,
                    url=d.url,
                    error=None
                    if d.error is None
                    else {"code": d.error_code, "message": d.error},
                    started_at=d.started_at,
                    answered_at=d.answered_at,
                )
                for d in view.deliveries
            ],
        )


class PostPage(BaseModel):
    posts: list[PostOut]
    next_before: str | None = Field(description="pass as `before` for the next page")


class Validation(BaseModel):
    valid: bool
    problems: dict[str, list[dict[str, Any]]]


@router.post("/schedule", status_code=201)
async def schedule(
    body: PostBody,
    user: CurrentUser,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Accepted:
    """Accept a post for its plan's release time, or now.

    422 if a platform would refuse it; no quota is used then.
    """
    post, created = await posts.schedule(
        rt, user, body.request(), idempotency_key=idempotency_key
    )
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return Accepted.of(post)


@router.post("/validate")
async def validate(body: PostBody, user: CurrentUser, rt: RuntimeDep) -> Validation:
    """Dry run: every problem per platform; uses no quota."""
    found = await posts.validate(rt, user, body.request())
    return Validation(
        valid=not found,
        problems={
            platform: [p.as_dict() for p in issues]
            for platform, issues in found.items()
        },
    )


@router.get("")
async def listing(
    user: CurrentUser,
    rt: RuntimeDep,
    status: Status | None = None,
    before: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PostPage:
    """Own posts, newest first."""
    async with rt.db.transaction() as session:
        views = await post_rows.page(
            session, user.id, status=status, before=before, limit=limit
        )
    next_before = views[-1].post.id if len(views) == limit else None
    return PostPage(posts=[PostOut.of(v) for v in views], next_before=next_before)


@router.get("/{post_id}")
async def read(post_id: str, user: CurrentUser, rt: RuntimeDep) -> PostOut:
    async with rt.db.transaction() as session:
        view = await post_rows.view(session, post_id, user.id)
    if view is None:
        raise errors.NotFound(f"no post {post_id}")
    return PostOut.of(view)


@router.delete("/{post_id}")
async def cancel(post_id: str, user: CurrentUser, rt: RuntimeDep) -> Accepted:
    """Cancel a post that has not gone out; its quota slot comes back.

    409 once it has reached its point of no return.
    """
    return Accepted.of(await posts.cancel(rt, user, post_id))
