"""Digest periods: calendar days and weeks in the team's time zone (DST-correct: a day is
23, 24 or 25 hours long, a week starts on Monday at local midnight), custom windows, and
the CLI's dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODS = ("day", "week")
HOURLY_UP_TO = timedelta(days=3)  # custom windows up to this long chart per hour, longer ones per day


class DigestError(ValueError):
    """A digest request that cannot be answered as asked; the message says what to change."""


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC, the time zone it was cut in, and the chart buckets:
    UTC instants where each local hour or local day starts."""

    period: str  # day | week | custom
    since: datetime
    until: datetime
    timezone: str
    bucket_unit: str  # hour | day
    buckets: tuple[datetime, ...]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def label(self) -> str:
        start, end = self.local(self.since), self.local(self.until)
        if self.period == "day":
            return start.strftime("%a %d %b %Y")
        if self.period == "week":
            return f"week of {start.strftime('%a %d %b %Y')}"
        return f"{start.strftime('%d %b %Y %H:%M')} to {end.strftime('%d %b %Y %H:%M')} ({self.timezone})"

    def bucket_label(self, index: int) -> str:
        start = self.local(self.buckets[index])
        if self.bucket_unit == "day":
            return start.strftime("%a %d %b")
        text = start.strftime("%H:%M")
        twins = [
            b for b in self.buckets if self.local(b).strftime("%Y-%m-%d %H:%M") == start.strftime("%Y-%m-%d %H:%M")
        ]
        # the repeated hour when clocks go back: say which offset
        return f"{text} (UTC{start.strftime('%z')[:3]})" if len(twins) > 1 else text

    def previous(self) -> Window:
        """The period before: the previous calendar day or week, or as long a stretch
        before a custom window."""
        if self.period in PERIODS:
            start = self.local(self.since).date()
            days = 1 if self.period == "day" else 7
            return _calendar_window(self.period, start - timedelta(days=days), days, self.timezone)
        length = self.until - self.since
        return custom_window(self.since - length, self.since, self.timezone)


def local_midnight(day: date, timezone: str) -> datetime:
    """Start of a local calendar day as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _calendar_window(period: str, first_day: date, days: int, timezone: str) -> Window:
    since = local_midnight(first_day, timezone)
    until = local_midnight(first_day + timedelta(days=days), timezone)
    if period == "day":
        return Window(period, since, until, timezone, "hour", _hours(since, until))
    midnights = tuple(local_midnight(first_day + timedelta(days=i), timezone) for i in range(days))
    return Window(period, since, until, timezone, "day", midnights)


def _hours(since: datetime, until: datetime) -> tuple[datetime, ...]:
    starts, moment = [], since
    while moment < until:
        starts.append(moment)
        moment += timedelta(hours=1)
    return tuple(starts)


def custom_window(since: datetime, until: datetime, timezone: str) -> Window:
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if until <= since:
        raise DigestError(f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})")
    if until - since <= HOURLY_UP_TO:
        return Window("custom", since, until, timezone, "hour", _hours(since, until))
    tz = ZoneInfo(timezone)
    starts = [since]
    day = since.astimezone(tz).date() + timedelta(days=1)
    while (midnight := local_midnight(day, timezone)) < until:
        starts.append(midnight)
        day += timedelta(days=1)
    return Window("custom", since, until, timezone, "day", tuple(starts))


def period_window(
    period: str,
    *,
    timezone: str,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Window:
    """The window a digest covers.

    Without since/until: the last complete local day (or Monday-to-Monday week)
    before `now`. With `since` only: the day or week starting at since's local date.
    With `until` only: the day or week ending at until's local date. With both (or
    period "custom"): exactly [since, until)."""
    if period not in (*PERIODS, "custom"):
        raise DigestError(f"unknown period {period!r}; use day or week")
    if since is not None and until is not None:
        return custom_window(since, until, timezone)
    if period == "custom":
        raise DigestError("a custom period needs both --since and --until")
    tz = ZoneInfo(timezone)
    days = 1 if period == "day" else 7
    if since is not None:
        first = since.astimezone(tz).date()
    elif until is not None:
        first = until.astimezone(tz).date() - timedelta(days=days)
    else:
        today = now.astimezone(tz).date()
        first = today - timedelta(days=1) if period == "day" else today - timedelta(days=today.weekday() + 7)
    return _calendar_window(period, first, days, timezone)


def parse_moment(text: str, timezone: str, *, option: str = "--since") -> datetime:
    """A CLI date or time: 2026-10-25 (local midnight), 2026-10-25T09:00 (local time),
    or with an offset (2026-10-25T09:00+01:00, ...Z)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return local_midnight(date.fromisoformat(value), timezone)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DigestError(f"{option} {text!r} is not a date like 2026-10-25 or a time like 2026-10-25T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)
