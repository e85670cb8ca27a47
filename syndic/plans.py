"""Plans: monthly quotas and release cadence per tier.

A free, basic or pro post is released at the first tick of its tier's
cadence at or after the requested time (ticks are aligned to the hour in
UTC); a max post is released at the requested instant.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class Tier(enum.StrEnum):
    FREE = "free"
    BASIC = "basic"
    PRO = "pro"
    MAX = "max"


@dataclass(frozen=True)
class Plan:
    tier: Tier
    posts_per_period: int | None  # None: unlimited
    image_posts_per_period: int | None
    cadence_minutes: int  # 0: released at the exact instant
    live_results: bool  # WebSocket push


PLANS: dict[Tier, Plan] = {
    Tier.FREE: Plan(Tier.FREE, 100, 10, 60, live_results=False),
    Tier.BASIC: Plan(Tier.BASIC, 300, None, 30, live_results=False),
    Tier.PRO: Plan(Tier.PRO, None, None, 15, live_results=True),
    Tier.MAX: Plan(Tier.MAX, None, None, 0, live_results=True),
}


def plan_for(tier: str) -> Plan:
    return PLANS[Tier(tier)]


def release_time(tier: str, requested: datetime) -> datetime:
    """When a post asked for `requested` goes out on `tier` (UTC, aware)."""
    cadence = plan_for(tier).cadence_minutes
    requested = requested.astimezone(UTC)
    if cadence == 0:
        return requested

    hour = requested.replace(minute=0, second=0, microsecond=0)
    step = timedelta(minutes=cadence)
    tick = hour
    while tick < requested:
        tick += step
    return tick


def calendar_period(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month holding `moment`, as [start, end)."""
    moment = moment.astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return start, end


def anniversary_period(anchor: datetime, moment: datetime) -> tuple[datetime, datetime]:
    """The billing period holding `moment` for a subscription started at `anchor`.

    Periods renew on the anchor's day of the month. An anchor on the 29th to
    the 31st is clamped to the last day of shorter months (an anchor of
    January 31 renews on February 28 or 29, then on March 31), the rule most
    billing systems use; the time of day stays the anchor's.
    """
    anchor = anchor.astimezone(UTC)
    moment = moment.astimezone(UTC)
    months = (moment.year - anchor.year) * 12 + (moment.month - anchor.month)
    start = _add_months(anchor, months)
    if start > moment:
        months -= 1
        start = _add_months(anchor, months)
    return start, _add_months(anchor, months + 1)


def _add_months(anchor: datetime, months: int) -> datetime:
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if month == 12:
        days_in_month = 31
    else:
        days_in_month = (
            anchor.replace(year=year, month=month + 1, day=1) - timedelta(days=1)
        ).day
    return anchor.replace(year=year, month=month, day=min(anchor.day, days_in_month))
