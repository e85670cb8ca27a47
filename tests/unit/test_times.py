"""Client times: offsets required, IANA zones honoured (DST included)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndic import errors, times

CASES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "cases" / "B12.json").read_text()
)


@pytest.mark.parametrize(
    ("case", "expected"),
    list(zip(CASES["input"]["cases"], CASES["expected"]["utc"], strict=True)),
)
def test_local_times_resolve_through_the_zone_rules_of_their_date(
    case: dict[str, str], expected: str
) -> None:
    resolved = times.resolve(case["local"], case["tz"])

    assert resolved == datetime.fromisoformat(expected.replace("Z", "+00:00"))


def test_offset_times_are_taken_as_given() -> None:
    assert times.resolve("2027-06-30T14:55:00+05:30", None) == datetime(
        2027, 6, 30, 9, 25, tzinfo=UTC
    )


def test_a_time_without_offset_or_zone_is_rejected() -> None:
    with pytest.raises(errors.InvalidSchedule, match="no UTC offset"):
        times.resolve("2027-01-15T08:00:00", None)


@pytest.mark.parametrize(
    "value", ["tomorrow", "2027-13-01T00:00Z", "", "2027-01-15 08:00 +5"]
)
def test_garbage_is_rejected_with_a_clear_message(value: str) -> None:
    with pytest.raises(errors.InvalidSchedule):
        times.resolve(value, None)


def test_unknown_zone_is_rejected() -> None:
    with pytest.raises(errors.InvalidSchedule, match="unknown IANA timezone"):
        times.resolve("2027-01-15T08:00", "Mars/Olympus_Mons")


def test_a_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    # 2027-03-14 02:30 does not exist in New York (02:00 jumps to 03:00)
    assert times.resolve("2027-03-14T02:30", "America/New_York") == datetime(
        2027, 3, 14, 7, 30, tzinfo=UTC
    )


def test_an_ambiguous_local_time_means_the_first_occurrence() -> None:
    # 2027-11-07 01:30 happens twice in New York; the first is still EDT (-4)
    assert times.resolve("2027-11-07T01:30", "America/New_York") == datetime(
        2027, 11, 7, 5, 30, tzinfo=UTC
    )


def test_more_than_a_minute_in_the_past_is_rejected() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    times.check_not_past(now - timedelta(seconds=59), now)
    with pytest.raises(errors.InvalidSchedule, match="in the past"):
        times.check_not_past(now - timedelta(seconds=61), now)
