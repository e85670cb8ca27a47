"""Which quota period a moment falls in for a user.

Free users count by calendar month in UTC. Paying users count by their
billing period, which renews on the day of the month their subscription
started (clamped to the month's last day for the 29th to the 31st; see
`syndic.plans.anniversary_period`).
"""

from __future__ import annotations

from datetime import datetime

from syndic import plans
from syndic.db.models import User


def current(user: User, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the quota period holding `now` for `user`."""
    if user.tier != plans.Tier.FREE and user.billing_anchor is not None:
        return plans.anniversary_period(user.billing_anchor, now)
    return plans.calendar_period(now)
