"""When a parcel may say it arrived: one window for every door (API, command line, workflow).

An ``arrived_at`` far from now is a typo (a wrong year, a local time read as UTC), not a parcel:
it would fix a due date in the past or months ahead. The future bound allows for clock skew
between the warehouse's scanners and this service; the past bound for parcels recorded late.
The workflow checks again with its own clock, as a last line of defence for starts that did not
come through the service's starters.
"""

from datetime import datetime, timedelta

from domain.errors import InvalidInput

MAX_AHEAD = timedelta(hours=1)
"""How far in the future an arrival may be (clock skew)."""
MAX_AGE = timedelta(days=366)
"""How long ago an arrival may be."""


def check_arrival_time(arrived_at: datetime, now: datetime) -> None:
    """Raise ``InvalidInput`` naming the problem when ``arrived_at`` is outside the window."""
    if arrived_at > now + MAX_AHEAD:
        raise InvalidInput(
            f"invalid arrival: arrived_at {arrived_at.isoformat()} is in the future "
            f"(at most {MAX_AHEAD.seconds // 3600} hour ahead of now, {now.isoformat(timespec='seconds')})",
            code="arrival_in_future",
            field="arrived_at",
            value=arrived_at.isoformat(),
        )
    if arrived_at < now - MAX_AGE:
        raise InvalidInput(
            f"invalid arrival: arrived_at {arrived_at.isoformat()} is more than a year ago",
            code="arrival_too_old",
            field="arrived_at",
            value=arrived_at.isoformat(),
        )
