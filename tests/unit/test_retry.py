"""The retry policy is a pure decision: retry at a delay, or give up."""

from __future__ import annotations

import pytest

from syndic.platforms.base import CredentialsRejected, PermanentError, TransientError
from syndic.scheduler.retry import GiveUp, Retry, RetryPolicy

POLICY = RetryPolicy(max_attempts=4, base=1.0, cap=60.0, max_wait=600.0)


@pytest.mark.parametrize(
    "error", [PermanentError("refused"), CredentialsRejected("bad token")]
)
def test_permanent_failures_are_never_retried(error: PermanentError) -> None:
    assert POLICY.decide(1, error) == GiveUp(error.message)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0)])
def test_backoff_is_exponential_with_full_jitter(attempt: int, ceiling: float) -> None:
    assert POLICY.decide(attempt, TransientError("5xx"), rand=lambda: 1.0) == Retry(
        ceiling
    )
    assert POLICY.decide(attempt, TransientError("5xx"), rand=lambda: 0.0) == Retry(0.0)


def test_the_platforms_retry_after_is_honoured() -> None:
    decision = POLICY.decide(1, TransientError("429", retry_after=30), rand=lambda: 0.5)

    assert decision == Retry(31.5)


def test_a_retry_after_longer_than_the_limit_gives_up() -> None:
    decision = POLICY.decide(1, TransientError("429", retry_after=3600))

    assert isinstance(decision, GiveUp)
    assert "3600" in decision.reason


def test_attempts_are_bounded() -> None:
    decision = POLICY.decide(4, TransientError("timeout"))

    assert isinstance(decision, GiveUp)
    assert "after 4 attempts" in decision.reason


def test_the_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=20, base=1.0, cap=10.0)

    assert policy.decide(15, TransientError("5xx"), rand=lambda: 1.0) == Retry(10.0)
