"""The writes of publishing: a post's point of no return, each platform's
answer, the post's close; every one fenced by the lease it is made under.

They run hundreds of times a second on the publisher's kept connection, so
each statement is built once, here, with bound parameters: SQLAlchemy then
skips building, keying and compiling it again on every call (about half the
cost of a short statement), and no ORM unit of work is involved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    select,
    tuple_,
    update,
)

from syndic.db.kept import CoreConnection
from syndic.db.models import (
    Ban,
    Base,
    Delivery,
    MediaFile,
    PlatformAccount,
    Post,
    UTCDateTime,
)

UNKNOWN_OUTCOME = (
    "syndic stopped while this platform call was in flight; "
    "check the account before posting again"
)


@dataclass(frozen=True, slots=True)
class Hold:
    """A lease as its holder knows it: the post and the fence it was taken under."""

    post_id: str
    fence: int


@dataclass(frozen=True, slots=True)
class Todo:
    """A platform to call now, with the user's sealed credentials, if stored."""

    delivery_id: int
    platform: str
    attempts: int
    sealed: bytes | None


@dataclass(frozen=True, slots=True)
class File:
    """An attached media file, as stored."""

    id: str
    content_type: str
    data: bytes
    alt: str


@dataclass(frozen=True, slots=True)
class Started:
    """A post past its point of no return: what to publish, and where."""

    hold: Hold
    user_id: str
    tier: str
    text: str
    options: dict[str, Any]
    files: list[File]
    release_at: datetime
    started_at: datetime
    todo: list[Todo]
    settled: list[str]  # states of the platforms already done with


_tables = Base.metadata.tables
_posts = _tables[Post.__tablename__]
_deliveries = _tables[Delivery.__tablename__]
_accounts = _tables[PlatformAccount.__tablename__]
_media = _tables[MediaFile.__tablename__]
_bans = _tables[Ban.__tablename__]

_now = bindparam("now", type_=UTCDateTime())
_held = and_(
    _posts.c.id == bindparam("b_post"),
    _posts.c.lease_owner == bindparam("owner"),
    _posts.c.fence == bindparam("b_fence"),
    _posts.c.status == "dispatched",
)
_state = _deliveries.c.status

_START_POSTS = (
    update(_posts)
    .where(
        # the ids alone, too: so SQLite looks the posts up by key rather than
        # scanning every post held under a lease
        _posts.c.id.in_(bindparam("b_ids", expanding=True)),
        tuple_(_posts.c.id, _posts.c.fence).in_(bindparam("holds", expanding=True)),
        _posts.c.lease_owner == bindparam("owner"),
        _posts.c.status == "dispatched",
        ~exists().where(_bans.c.user_id == _posts.c.user_id),
    )
    .values(
        publish_started_at=func.coalesce(_posts.c.publish_started_at, _now),
        updated_at=_now,
    )
    .returning(
        _posts.c.id,
        _posts.c.fence,
        _posts.c.user_id,
        _posts.c.tier,
        _posts.c.text,
        _posts.c.options,
        _posts.c.media,
        _posts.c.release_at,
        _posts.c.publish_started_at,
    )
)
# a call a previous holder had in flight (publishing) is now unknown; the
# rest stays as it is: each pending platform passes its own point of no
# return (`begin`) right before its call
_START_DELIVERIES = (
    update(_deliveries)
    .where(_deliveries.c.post_id.in_(bindparam("b_posts", expanding=True)))
    .values(
        status=case((_state == "publishing", "unknown"), else_=_state),
        error_code=case(
            (_state == "publishing", "outcome_unknown"),
            else_=_deliveries.c.error_code,
        ),
        error=case(
            (_state == "publishing", UNKNOWN_OUTCOME), else_=_deliveries.c.error
        ),
        answered_at=case(
            (_state == "publishing", _now), else_=_deliveries.c.answered_at
        ),
    )
    .returning(
        _deliveries.c.id,
        _deliveries.c.post_id,
        _deliveries.c.platform,
        _deliveries.c.status,
        _deliveries.c.attempts,
    )
)
_SEALED = select(
    _accounts.c.user_id, _accounts.c.platform, _accounts.c.ciphertext
).where(_accounts.c.user_id.in_(bindparam("b_users", expanding=True)))
_FILES = select(
    _media.c.id, _media.c.user_id, _media.c.content_type, _media.c.data, _media.c.alt
).where(_media.c.id.in_(bindparam("b_media", expanding=True)))


def _delivery_in(state: str) -> Update:
    """An update of one delivery in `state`, while its post's lease is held."""
    return update(_deliveries).where(
        _deliveries.c.id == bindparam("b_delivery"),
        _state == state,
        exists().where(_held),
    )


_BEGIN = _delivery_in("pending").values(
    status="publishing", attempts=_deliveries.c.attempts + 1, started_at=_now
)
_ANSWER = _delivery_in("publishing").values(
    status=bindparam("b_status"),
    remote_id=bindparam("b_remote_id"),
    url=bindparam("b_url"),
    error_code=bindparam("b_error_code"),
    error=bindparam("b_error"),
    answered_at=_now,
)
_DEFER = _delivery_in("publishing").values(
    status="pending",
    error_code=bindparam("b_error_code"),
    error=bindparam("b_error"),
)
_CLOSE = (
    update(_posts)
    .where(
        _held,
        ~exists().where(
            _deliveries.c.post_id == bindparam("b_post"),
            _state.in_(("pending", "publishing")),
        ),
    )
    .values(
        status=bindparam("b_status"),
        lease_owner=None,
        lease_until=None,
        finished_at=_now,
        updated_at=_now,
    )
)


async def start(
    conn: CoreConnection, *, owner: str, holds: Sequence[Hold], now: datetime
) -> dict[str, Started]:
    """The point of no return of every post in `holds` still ours, in a few
    statements whatever their number; posts no longer ours (or whose owner
    is banned) are left out.

    A platform a previous holder left in `publishing` (it may or may not have
    reached the platform) becomes `unknown`; the platforms still pending are
    returned to call, each after its own point of no return (`begin`). The
    users' credentials are read in a third statement, and the attached media
    files in a fourth if any post has some.
    """
    if not holds:
        return {}
    posts = (
        await conn.execute(
            _START_POSTS,
            {
                "b_ids": [h.post_id for h in holds],
                "holds": [(h.post_id, h.fence) for h in holds],
                "owner": owner,
                "now": now,
            },
        )
    ).all()
    if not posts:
        return {}

    rows = await conn.execute(
        _START_DELIVERIES, {"b_posts": [p.id for p in posts], "now": now}
    )
    user_of = {p.id: p.user_id for p in posts}
    sealed = await _sealed(conn, set(user_of.values()))
    files = await _files(conn, posts)

    todo: dict[str, list[Todo]] = {p.id: [] for p in posts}
    settled: dict[str, list[str]] = {p.id: [] for p in posts}
    for row in sorted(rows.all()):
        if row.status == "pending":  # ours to call now
            ciphertext = sealed.get((user_of[row.post_id], row.platform))
            todo[row.post_id].append(
                Todo(row.id, row.platform, row.attempts, ciphertext)
            )
        else:
            settled[row.post_id].append(row.status)
    return {
        p.id: Started(
            hold=Hold(p.id, p.fence),
            user_id=p.user_id,
            tier=p.tier,
            text=p.text,
            options=p.options,
            files=files.get(p.id, []),
            release_at=p.release_at,
            started_at=p.publish_started_at,
            todo=todo[p.id],
            settled=settled[p.id],
        )
        for p in posts
    }


async def _sealed(
    conn: CoreConnection, user_ids: set[str]
) -> dict[tuple[str, str], bytes]:
    """The users' stored credentials, sealed, by user and platform."""
    rows = await conn.execute(_SEALED, {"b_users": sorted(user_ids)})
    return {(row.user_id, row.platform): row.ciphertext for row in rows}


async def _files(conn: CoreConnection, posts: Sequence[Any]) -> dict[str, list[File]]:
    """Each post's media files, in the post's order; its owner's files only."""
    wanted = sorted({media_id for p in posts for media_id in p.media})
    if not wanted:
        return {}
    stored = {row.id: row for row in await conn.execute(_FILES, {"b_media": wanted})}
    return {
        p.id: [
            File(f.id, f.content_type, f.data, f.alt)
            for f in (stored.get(media_id) for media_id in p.media)
            if f is not None and f.user_id == p.user_id
        ]
        for p in posts
    }


async def begin(
    conn: CoreConnection, *, owner: str, hold: Hold, delivery_id: int, now: datetime
) -> bool:
    """A platform's point of no return, right before each call: `publishing`,
    one more attempt."""
    params = {**_hold(owner, hold), "b_delivery": delivery_id, "now": now}
    return bool((await conn.execute(_BEGIN, params)).rowcount)


async def answer(
    conn: CoreConnection,
    *,
    owner: str,
    hold: Hold,
    delivery_id: int,
    status: str,
    now: datetime,
    remote_id: str | None = None,
    url: str | None = None,
    error_code: str | None = None,
    error: str | None = None,
) -> bool:
    """Record a platform's answer, only while the lease is still ours."""
    params = {
        **_hold(owner, hold),
        "b_delivery": delivery_id,
        "b_status": status,
        "b_remote_id": remote_id,
        "b_url": url,
        "b_error_code": error_code,
        "b_error": error,
        "now": now,
    }
    return bool((await conn.execute(_ANSWER, params)).rowcount)


async def defer(
    conn: CoreConnection,
    *,
    owner: str,
    hold: Hold,
    delivery_id: int,
    error_code: str,
    error: str,
) -> bool:
    """Back to `pending` after a transient failure the platform did not act on."""
    params = {
        **_hold(owner, hold),
        "b_delivery": delivery_id,
        "b_error_code": error_code,
        "b_error": error,
    }
    return bool((await conn.execute(_DEFER, params)).rowcount)


async def close(
    conn: CoreConnection, *, owner: str, hold: Hold, status: str, now: datetime
) -> bool:
    """End the lease with the post's final `status`; refused while the lease
    is not ours or a platform of the post is still open."""
    params = {**_hold(owner, hold), "b_status": status, "now": now}
    return bool((await conn.execute(_CLOSE, params)).rowcount)


def final_status(states: Sequence[str]) -> str:
    """`published` if every platform took it, `failed` if none did, else
    `partially_failed`."""
    published = sum(state == "published" for state in states)
    if published == len(states):
        return "published"
    return "failed" if published == 0 else "partially_failed"


def _hold(owner: str, hold: Hold) -> dict[str, Any]:
    return {"owner": owner, "b_post": hold.post_id, "b_fence": hold.fence}
