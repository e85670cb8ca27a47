"""What a failed platform call deserves, decided as a value."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from syndic.platforms.base import PermanentError, PlatformError, TransientError


@dataclass(frozen=True)
class Retry:
    delay: float  # seconds


@dataclass(frozen=True)
class GiveUp:
    reason: str


Decision = Retry | GiveUp


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for transient failures.

    A platform's own `retry_after` is honoured (plus a little jitter so
    that many posts do not come back at the same instant), unless it asks
    for longer than `max_wait`.
    """

    max_attempts: int = 4
    base: float = 1.0  # seconds
    cap: float = 60.0  # seconds
    max_wait: float = 600.0  # seconds

    def decide(
        self,
        attempt: int,
        error: PlatformError,
        rand: Callable[[], float] = random.random,
    ) -> Decision:
        """`attempt` is the number of calls made so far, the failed one included."""
        if isinstance(error, PermanentError) or not isinstance(error, TransientError):
            return GiveUp(error.message)
        if attempt >= self.max_attempts:
            return GiveUp(f"gave up after {attempt} attempts: {error.message}")

        if error.retry_after is not None:
            if error.retry_after > self.max_wait:
                return GiveUp(
                    f"platform asked to wait {error.retry_after:.0f} s: {error.message}"
                )
            return Retry(error.retry_after * (1 + 0.1 * rand()))
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return Retry(ceiling * rand())
