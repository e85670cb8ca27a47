"""Release cadence per tier and quota periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndic import plans


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("tier", "requested", "released"),
    [
        ("free", "2027-01-15 10:05:00", "2027-01-15 11:00:00"),
        ("free", "2027-01-15 10:00:00", "2027-01-15 10:00:00"),
        ("free", "2027-01-15 23:30:00", "2027-01-16 00:00:00"),
        ("basic", "2027-01-15 10:05:00", "2027-01-15 10:30:00"),
        ("basic", "2027-01-15 10:30:00.000001", "2027-01-15 11:00:00"),
        ("pro", "2027-01-15 10:05:00", "2027-01-15 10:15:00"),
        ("pro", "2027-01-15 10:46:00", "2027-01-15 11:00:00"),
        ("max", "2027-01-15 10:05:03.250", "2027-01-15 10:05:03.250"),
    ],
)
def test_release_time_is_the_first_cadence_tick_at_or_after_the_request(
    tier: str, requested: str, released: str
) -> None:
    assert plans.release_time(tier, at(requested)) == at(released)


def test_calendar_period_is_the_utc_month() -> None:
    assert plans.calendar_period(at("2027-12-31 23:59:59")) == (
        at("2027-12-01 00:00:00"),
        at("2028-01-01 00:00:00"),
    )


@pytest.mark.parametrize(
    ("anchor", "moment", "start", "end"),
    [
        (
            "2027-01-31 09:00",
            "2027-02-15 00:00",
            "2027-01-31 09:00",
            "2027-02-28 09:00",
        ),
        (
            "2027-01-31 09:00",
            "2027-03-01 00:00",
            "2027-02-28 09:00",
            "2027-03-31 09:00",
        ),
        (
            "2028-01-30 09:00",
            "2028-02-29 10:00",
            "2028-02-29 09:00",
            "2028-03-30 09:00",
        ),
        (
            "2027-01-15 09:00",
            "2027-01-15 08:59",
            "2026-12-15 09:00",
            "2027-01-15 09:00",
        ),
        (
            "2027-11-30 00:00",
            "2027-12-30 00:00",
            "2027-12-30 00:00",
            "2028-01-30 00:00",
        ),
    ],
)
def test_anniversary_period_clamps_to_the_last_day_of_short_months(
    anchor: str, moment: str, start: str, end: str
) -> None:
    assert plans.anniversary_period(at(anchor), at(moment)) == (at(start), at(end))
