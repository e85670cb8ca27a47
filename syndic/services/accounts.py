"""Platform accounts: credentials stored sealed, resolved when publishing.

In sandbox mode every user is connected to the emulator's account of each
platform unless they stored credentials of their own.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from syndic import clock, errors
from syndic.db.repo import accounts, audit
from syndic.runtime import Runtime

log = logging.getLogger(__name__)


async def store(
    rt: Runtime,
    user_id: str,
    platform: str,
    credentials: dict[str, Any],
    *,
    label: str = "",
    expires_at: datetime | None = None,
    actor: str,
) -> None:
    adapter = rt.adapters.get(platform)
    if adapter is None:
        raise errors.NotFound(f"unknown platform {platform}")
    try:
        normalised = adapter.check_credentials(credentials)
    except ValueError as exc:
        raise errors.InvalidInput(f"{platform} credentials: {exc}") from None

    now = clock.now()
    sealed = rt.box.seal(user_id, platform, normalised)
    async with rt.db.transaction() as session:
        await accounts.store(
            session,
            user_id=user_id,
            platform=platform,
            ciphertext=sealed,
            label=label,
            expires_at=expires_at,
            now=now,
        )
        await audit.record(
            session,
            actor=actor,
            action="credentials_stored",
            now=now,
            user_id=user_id,
            platform=platform,
        )
    log.info("credentials_stored", extra={"user_id": user_id, "platform": platform})


async def forget(rt: Runtime, user_id: str, platform: str, *, actor: str) -> None:
    now = clock.now()
    async with rt.db.transaction() as session:
        if not await accounts.forget(session, user_id, platform):
            raise errors.NotFound(f"no stored {platform} account")
        await audit.record(
            session,
            actor=actor,
            action="credentials_removed",
            now=now,
            user_id=user_id,
            platform=platform,
        )
    log.info("credentials_removed", extra={"user_id": user_id, "platform": platform})


async def listing(rt: Runtime, user_id: str) -> list[dict[str, Any]]:
    """Connected platforms, never the secrets."""
    async with rt.db.transaction() as session:
        stored = await accounts.of_user(session, user_id)
    rows: list[dict[str, Any]] = [
        {
            "platform": a.platform,
            "source": "stored",
            "label": a.label,
            "expires_at": a.expires_at,
            "updated_at": a.updated_at,
        }
        for a in stored
    ]
    have = {a.platform for a in stored}
    rows += [
        {
            "platform": p,
            "source": "sandbox",
            "label": "emulator account",
            "expires_at": None,
            "updated_at": None,
        }
        for p in sorted(rt.sandbox_credentials)
        if p not in have
    ]
    return rows


async def connected(rt: Runtime, user_id: str) -> set[str]:
    async with rt.db.transaction() as session:
        stored = {a.platform for a in await accounts.of_user(session, user_id)}
    return stored | set(rt.sandbox_credentials)


def unseal(
    rt: Runtime, user_id: str, platform: str, sealed: bytes | None
) -> dict[str, Any] | None:
    """The credentials to publish with: the user's own (`sealed`, as stored),
    else the sandbox's emulator account, else None."""
    if sealed is not None:
        return rt.box.open(user_id, platform, sealed)
    return rt.sandbox_credentials.get(platform)
