"""Reading the time a client asks for.

A time must carry a UTC offset (RFC 3339), or come as a local time with an
IANA zone. Local times resolve through the zone's rules on that date, so a
zone's daylight-saving changes are honoured:

- a local time that does not exist (the clock jumps forward over it) moves
  forward by the length of the gap: 02:30 on a spring-forward night where
  02:00 becomes 03:00 is published at 03:30;
- a local time that happens twice (the clock falls back) means the first
  of the two, the one still on daylight time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndic import errors

PAST_TOLERANCE = timedelta(minutes=1)
FURTHEST_AHEAD = timedelta(days=5 * 366)

# RFC 3339 date-time; seconds may be left out for a local time with a zone
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?"
)


def resolve(value: str, zone: str | None) -> datetime:
    """The UTC instant `value` names, or `InvalidSchedule`."""
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise errors.InvalidSchedule(
            f"scheduled_at {value!r} is not an RFC 3339 time "
            "such as 2027-01-15T08:00:00+01:00"
        ) from None

    try:
        return _to_utc(parsed, zone)
    except OverflowError:
        raise errors.InvalidSchedule(
            f"scheduled_at {value!r} is out of range"
        ) from None


def _to_utc(parsed: datetime, zone: str | None) -> datetime:
    if parsed.tzinfo is not None:
        if zone is not None:
            raise errors.InvalidSchedule(
                "give either an offset in scheduled_at or a timezone, not both"
            )
        return parsed.astimezone(UTC)
    if zone is None:
        raise errors.InvalidSchedule(
            "scheduled_at has no UTC offset; add one (2027-01-15T08:00:00-05:00) "
            "or pass an IANA timezone such as America/New_York"
        )
    return _localize(parsed, _zone(zone))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.InvalidSchedule(f"unknown IANA timezone {name!r}") from None


def _localize(local: datetime, zone: ZoneInfo) -> datetime:
    candidate = local.replace(tzinfo=zone, fold=0)
    roundtrip = candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if roundtrip != local:
        # inside a gap: fold=0 reads the time with the offset from before the
        # jump, which lands the same distance past the gap as asked
        before = local.replace(tzinfo=zone, fold=0).utcoffset()
        after = local.replace(tzinfo=zone, fold=1).utcoffset()
        assert before is not None
        assert after is not None
        return (local - min(before, after)).replace(tzinfo=UTC)
    return candidate.astimezone(UTC)


def check_window(moment: datetime, now: datetime) -> None:
    """Refuse a time more than a minute past, or more than five years ahead."""
    check_not_past(moment, now)
    if moment > now + FURTHEST_AHEAD:
        raise errors.InvalidSchedule(
            f"scheduled_at {moment.isoformat()} is more than five years ahead"
        )


def check_not_past(moment: datetime, now: datetime) -> None:
    if moment < now - PAST_TOLERANCE:
        raise errors.InvalidSchedule(
            f"scheduled_at {moment.isoformat()} is more than a minute in the past; "
            "omit it to publish now"
        )
