"""Wall-clock time, always aware UTC; pass `now` explicitly to stay testable."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def new_id(kind: str) -> str:
    """A time-ordered id such as `pst_0192f3a1b2c3d4e5f6a7b8c9`.

    Milliseconds since the epoch in hex, then 48 random bits.
    """
    return f"{kind}_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"
