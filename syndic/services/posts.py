"""Scheduling and cancelling posts: validation, quota, idempotency."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from syndic import clock, errors, plans, times
from syndic.billing import entitlement
from syndic.db.models import MediaFile, Post, User
from syndic.db.repo import media as media_rows
from syndic.db.repo import posts, quotas
from syndic.platforms.base import Draft, Media, Problem
from syndic.runtime import Runtime
from syndic.services import accounts, media, periods

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PostRequest:
    """A post as a client asked for it, before any rule is applied."""

    text: str
    platforms: Sequence[str]
    scheduled_at: str | None = None
    timezone: str | None = None
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)
    media: Sequence[str | media.Inline] = ()

    def draft_for(self, platform: str, files: Sequence[Media] = ()) -> Draft:
        return Draft(
            text=self.texts.get(platform, self.text),
            options=dict(self.options.get(platform, {})),
            media=tuple(files),
        )

    def when(self, now: datetime) -> datetime:
        """The instant asked for (now if none), or `InvalidSchedule`."""
        if self.scheduled_at is None:
            return now
        moment = times.resolve(self.scheduled_at, self.timezone)
        times.check_window(moment, now)
        return moment

    def fingerprint(self, files: Sequence[MediaFile]) -> str:
        body = {
            "text": self.text,
            "platforms": list(self.platforms),
            "scheduled_at": self.scheduled_at,
            "timezone": self.timezone,
            "options": self.options,
            "texts": self.texts,
            "media": [f.sha256 for f in files],
        }
        return hashlib.sha256(
            json.dumps(body, sort_keys=True, default=str).encode()
        ).hexdigest()


async def validate(
    rt: Runtime, user: User, request: PostRequest
) -> dict[str, list[Problem]]:
    """Every rule each target platform would refuse the post for (no quota used).

    A bad time or unknown media is refused as when scheduling.
    """
    request.when(clock.now())
    files = await media.resolve(rt, user.id, request.media)
    return await problems(rt, user, request, files)


async def problems(
    rt: Runtime, user: User, request: PostRequest, files: Sequence[MediaFile]
) -> dict[str, list[Problem]]:
    found: dict[str, list[Problem]] = {}
    connected = await accounts.connected(rt, user.id)
    attached = media.for_adapters(files)
    for platform in request.platforms:
        adapter = rt.adapters.get(platform)
        if adapter is None:
            found[platform] = [
                Problem(f"{platform}.unsupported", f"{platform} is not available")
            ]
            continue
        issues = adapter.validate(request.draft_for(platform, attached))
        if platform not in connected:
            issues.append(
                Problem(
                    f"{platform}.account.not_connected",
                    f"connect a {platform} account first (PUT /v1/accounts/{platform})",
                )
            )
        if issues:
            found[platform] = issues
    return found


async def schedule(
    rt: Runtime, user: User, request: PostRequest, *, idempotency_key: str | None = None
) -> tuple[Post, bool]:
    """Accept a post; the stored post and whether it was created now.

    A repeated `idempotency_key` with the same request returns the first
    post; with a different request it is a conflict.
    """
    now = clock.now()
    scheduled_at = request.when(now)
    files = await media.resolve(rt, user.id, request.media)
    fingerprint = request.fingerprint(files)

    if idempotency_key is not None:
        earlier = await _replay(rt, user.id, idempotency_key, fingerprint)
        if earlier is not None:
            return earlier, False

    found = await problems(rt, user, request, files)
    if found:
        raise errors.PostRejected(
            "a platform would refuse this post",
            details={p: [i.as_dict() for i in issues] for p, issues in found.items()},
        )

    try:
        post = await _store(
            rt, user, request, files, scheduled_at, now, idempotency_key, fingerprint
        )
    except IntegrityError:
        if idempotency_key is None:
            raise
        # the same idempotency key won a race a moment ago
        earlier = await _replay(rt, user.id, idempotency_key, fingerprint)
        if earlier is None:
            raise
        return earlier, False

    log.info(
        "post_scheduled",
        extra={
            "post_id": post.id,
            "user_id": user.id,
            "release_at": post.release_at.isoformat(),
        },
    )
    if rt.scheduler is not None:
        rt.scheduler.notice(post.id, post.release_at)
    return post, True


async def _replay(rt: Runtime, user_id: str, key: str, fingerprint: str) -> Post | None:
    async with rt.db.transaction() as session:
        earlier = await posts.by_idempotency_key(session, user_id, key)
    if earlier is not None and earlier.request_hash != fingerprint:
        raise errors.IdempotencyConflict(
            "this Idempotency-Key was used with a different request"
        )
    return earlier


async def _store(
    rt: Runtime,
    user: User,
    request: PostRequest,
    files: Sequence[MediaFile],
    scheduled_at: datetime,
    now: datetime,
    idempotency_key: str | None,
    fingerprint: str,
) -> Post:
    plan = plans.PLANS[entitlement.effective_tier(user, now)]
    has_image = any(f.content_type.startswith("image/") for f in files)
    period_start, _ = periods.current(user, now)
    post = Post(
        id=clock.new_id("pst"),
        user_id=user.id,
        status="pending",
        text=request.text,
        platforms=list(request.platforms),
        options={
            "per_platform": {k: dict(v) for k, v in request.options.items()},
            "texts": dict(request.texts),
        },
        media=[f.id for f in files],
        has_image=has_image,
        tier=plan.tier.value,
        scheduled_at=scheduled_at,
        release_at=plans.release_time(plan.tier, scheduled_at),
        quota_period_start=period_start,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        created_at=now,
        updated_at=now,
        fence=0,
    )

    async with rt.db.transaction() as session:
        allowed = await quotas.consume(
            session,
            user_id=user.id,
            period_start=period_start,
            image=has_image,
            post_limit=plan.posts_per_period,
            image_limit=plan.image_posts_per_period,
        )
        if not allowed:
            posts_used, _ = await quotas.used(session, user.id, period_start)
            which = (
                "image posts"
                if has_image
                and (
                    plan.posts_per_period is None or posts_used < plan.posts_per_period
                )
                else "posts"
            )
            raise errors.QuotaExceeded(
                f"the {plan.tier.value} plan's monthly quota of {which} is used up",
                details={
                    "tier": plan.tier.value,
                    "quota": which,
                    "period_start": period_start.isoformat(),
                },
            )
        for file in files:
            if inspect(file).transient:  # sent inline with this post
                await media_rows.add(session, file)
        await posts.create(session, post)
    return post


async def cancel(rt: Runtime, user: User, post_id: str) -> Post:
    """Cancel before the point of no return and give the quota slot back."""
    now = clock.now()
    async with rt.db.transaction() as session:
        post = await posts.cancel(session, post_id, user.id, now)
        if post is None:
            existing = await posts.view(session, post_id, user.id)
            if existing is None:
                raise errors.NotFound(f"no post {post_id}")
            raise errors.PostNotCancellable(
                f"post {post_id} is {existing.post.status} "
                "and can no longer be cancelled"
            )
        if post.quota_period_start is not None:
            await quotas.refund(
                session,
                user_id=user.id,
                period_start=post.quota_period_start,
                image=post.has_image,
            )

    log.info("post_cancelled", extra={"post_id": post.id, "user_id": user.id})
    if rt.scheduler is not None:
        rt.scheduler.forget(post.id)
    return post
