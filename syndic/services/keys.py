"""API keys: issue, authenticate, revoke, and remember when each was last used."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

from syndic import clock, errors
from syndic.db.engine import Database
from syndic.db.models import ApiKey, User
from syndic.db.repo import audit, keys, users
from syndic.security import keys as key_format

log = logging.getLogger(__name__)

FLUSH_EVERY = 5.0  # seconds
MAX_ACTIVE_KEYS = 25


async def issue(
    db: Database, secret: str, user_id: str, *, name: str, actor: str
) -> tuple[str, ApiKey]:
    """A new key for `user_id`: (plaintext, stored row). Show the plaintext once."""
    now = clock.now()
    async with db.transaction() as session:
        await users.require(session, user_id)
        if len(await keys.active(session, user_id)) >= MAX_ACTIVE_KEYS:
            raise errors.Conflict(
                f"a user holds at most {MAX_ACTIVE_KEYS} active keys; revoke one first"
            )
        for _ in range(5):
            new = key_format.generate(secret)
            row = await keys.add(session, user_id, new, name=name, now=now)
            if row is not None:
                break
        else:
            raise errors.ServiceUnavailable(
                "could not find a free key prefix; try again"
            )
        await audit.record(
            session,
            actor=actor,
            action="key_generated",
            now=now,
            user_id=user_id,
            prefix=new.prefix,
        )
    log.info("key_generated", extra={"user_id": user_id, "prefix": new.prefix})
    return new.plaintext, row


async def active(db: Database, user_id: str) -> Sequence[ApiKey]:
    async with db.transaction() as session:
        return await keys.active(session, user_id)


async def revoke(
    db: Database, prefix: str, *, actor: str, user_id: str | None = None
) -> ApiKey:
    now = clock.now()
    async with db.transaction() as session:
        row = await keys.revoke(session, prefix, now=now, user_id=user_id)
        if row is None:
            raise errors.NotFound(f"no active key {prefix}")
        await audit.record(
            session,
            actor=actor,
            action="key_revoked",
            now=now,
            user_id=row.user_id,
            prefix=prefix,
        )
    log.info("key_revoked", extra={"user_id": row.user_id, "prefix": prefix})
    return row


async def authenticate(db: Database, secret: str, token: str) -> tuple[User, int]:
    """The user a bearer token belongs to, and the key's id.

    A token that is not of the key format is refused before any query; the
    digest is compared in constant time; a banned user is refused whatever
    key they use.
    """
    if not key_format.is_well_formed(token):
        raise errors.AuthenticationFailed("malformed API key")

    async with db.transaction() as session:
        owner = await keys.owner_of(session, key_format.prefix_of(token))

    if owner is None or not key_format.matches(token, owner.key_digest, secret):
        raise errors.AuthenticationFailed("unknown or revoked API key")
    if owner.banned:
        raise errors.UserBanned("this account is banned")
    return owner.user, owner.key_id


class LastUsed:
    """Collects key uses in memory and writes them in one batch every few seconds,
    so authentication never waits on a write."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[int, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def touch(self, key_id: int) -> None:
        self._pending[key_id] = clock.now()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="syndic-key-last-used")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        async with self._db.transaction() as session:
            await keys.record_use(session, batch)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush()
            except errors.ServiceUnavailable:
                log.warning("key_last_used_flush_failed", exc_info=True)
