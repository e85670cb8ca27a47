"""Users and due posts in bulk, for multi-process tests and benchmarks."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from syndic import clock
from syndic.db.engine import Database
from syndic.db.models import Delivery, PlatformAccount, Post, User
from syndic.security.crypto import CredentialBox


async def user_with_account(
    db: Database,
    credentials_key: str,
    platform: str,
    credentials: dict[str, Any],
    *,
    tier: str = "max",
) -> str:
    """A user whose `platform` account is stored sealed, as syndic stores it."""
    now = clock.now()
    user_id = clock.new_id("usr")
    sealed = CredentialBox(credentials_key).seal(user_id, platform, credentials)
    async with db.transaction() as session:
        await session.execute(
            insert(User).values(
                id=user_id,
                email=f"{user_id}@fleet.test",
                tier=tier,
                is_admin=False,
                referral_code=secrets.token_hex(5),
                created_at=now,
                updated_at=now,
            )
        )
        await session.execute(
            insert(PlatformAccount).values(
                user_id=user_id,
                platform=platform,
                ciphertext=sealed,
                label="",
                created_at=now,
                updated_at=now,
            )
        )
    return user_id


async def due_posts(
    db: Database,
    user_id: str,
    due: Sequence[datetime],
    platform: str,
    *,
    text: str = "post {n}",
    tier: str = "max",
) -> list[str]:
    """Pending posts due at `due` (already their release instants), in bulk."""
    now = clock.now()
    ids = [clock.new_id("pst") for _ in due]
    for start in range(0, len(due), 2000):
        chunk = range(start, min(start + 2000, len(due)))
        async with db.transaction() as session:
            await session.execute(
                insert(Post),
                [
                    {
                        "id": ids[n],
                        "user_id": user_id,
                        "status": "pending",
                        "text": text.format(n=n),
                        "platforms": [platform],
                        "options": {},
                        "media": [],
                        "has_image": False,
                        "tier": tier,
                        "scheduled_at": due[n],
                        "release_at": due[n],
                        "created_at": now,
                        "updated_at": now,
                        "fence": 0,
                    }
                    for n in chunk
                ],
            )
            await session.execute(
                insert(Delivery),
                [{"post_id": ids[n], "platform": platform} for n in chunk],
            )
    return ids
