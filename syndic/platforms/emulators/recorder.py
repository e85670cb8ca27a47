"""What the emulated platforms received, newest last, in a bounded buffer.

Each entry is a plain dict, ready to serve as JSON:

    {"platform": "telegram", "received_at": "2026-01-05T10:00:00.123456Z",
     "method": "POST", "path": "/bot***/sendMessage", "query": {},
     "body": {...}}

`path` is the path inside the platform's emulator, with every secret part
already replaced by `***` by the emulator that records it. `body` is the
parsed JSON, the form fields as a dict, or for multipart the fields as
strings and each file as `{filename, content_type, size}`; never the bytes.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

DEFAULT_CAPACITY = 10_000


class Recorder:
    """A thread-safe ring buffer of received requests (the oldest drop first)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def record(
        self,
        platform: str,
        method: str,
        path: str,
        body: Any,
        *,
        query: dict[str, str] | None = None,
        received_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Store one request; `path` must already be redacted by the caller."""
        when = received_at or datetime.now(UTC)
        entry = {
            "platform": platform,
            "received_at": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "method": method,
            "path": path,
            "query": dict(query or {}),
            "body": body,
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(
        self, platform: str | None = None, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Entries oldest first, of one `platform` and the last `limit` if given."""
        with self._lock:
            selected = [
                entry
                for entry in self._entries
                if platform is None or entry["platform"] == platform
            ]
        if limit is not None:
            selected = selected[-limit:] if limit > 0 else []
        return selected

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
