"""An in-memory platform adapter whose answers a test scripts."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from syndic.platforms.base import Draft, PlatformError, Problem, Receipt


class FakeAdapter:
    """Succeeds unless told otherwise; counts every call it receives."""

    name: ClassVar[str] = "fake"

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.calls: list[Draft] = []
        self.script: deque[PlatformError | float] = deque()
        self.delay = 0.0  # seconds before answering
        self.entered = asyncio.Event()

    def fail(self, *errors: PlatformError) -> None:
        self.script.extend(errors)

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        if "token" not in credentials:
            raise ValueError("token is required")
        return dict(credentials)

    def validate(self, draft: Draft) -> list[Problem]:
        if not draft.text:
            return [Problem(f"{self.platform}.text.empty", "text is empty")]
        return []

    async def publish(self, draft: Draft, credentials: Mapping[str, Any]) -> Receipt:
        self.calls.append(draft)
        self.entered.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            step = self.script.popleft()
            if isinstance(step, PlatformError):
                raise step
        number = len(self.calls)
        return Receipt(
            f"{self.platform}-{number}", f"https://{self.platform}.example/{number}"
        )
