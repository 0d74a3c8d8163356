"""SLA clocks in business hours and snooze times in the team's time zone. Pure: cards
draw from it; the sweep that reminds the team (it reads the store) is in watcher.slack.jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from watcher.config import DEFAULT_SLA_MINUTES, WEEKDAYS, SlackConfig
from watcher.core.item import QueueItem

UNCLAIMED_STATES = ("new",)
SNOOZE_CHOICES = {"1h": "1 hour", "4h": "4 hours", "tomorrow": "tomorrow morning"}


@dataclass(frozen=True)
class BusinessHours:
    """When the team works: weekdays (0 = Monday) and a daily window, in its zone."""

    tz: ZoneInfo
    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def from_config(cls, slack: SlackConfig, timezone: str) -> BusinessHours:
        start_text, end_text = slack.business_hours.split("-")
        end = time(23, 59, 59, 999999) if end_text == "24:00" else time.fromisoformat(end_text)
        return cls(
            tz=ZoneInfo(timezone),
            days=frozenset(WEEKDAYS.index(d) for d in slack.business_days),
            start=time.fromisoformat(start_text),
            end=end,
        )

    def _window(self, day: datetime) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.days:
            return None
        opens = datetime.combine(day.date(), self.start, tzinfo=self.tz)
        closes = datetime.combine(day.date(), self.end, tzinfo=self.tz)
        return opens, closes

    def add_minutes(self, start: datetime, minutes: float) -> datetime:
        """`start` plus `minutes` of working time (the clock stops at night and on days off)."""
        if not self.days:
            return start + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        cursor = start.astimezone(self.tz)
        for _ in range(3700):  # ten years of days: a hard stop, never reached with a sane config
            window = self._window(cursor)
            if window is not None:
                opens, closes = window
                begin = max(cursor, opens)
                if begin < closes:
                    if begin + left <= closes:
                        return (begin + left).astimezone(start.tzinfo)
                    left -= closes - begin
            cursor = datetime.combine(cursor.date() + timedelta(days=1), time(0), tzinfo=self.tz)
        return start + timedelta(minutes=minutes)

    def next_opening(self, after: datetime) -> datetime:
        """The start of the next working day strictly after `after`'s date ("tomorrow morning")."""
        local = after.astimezone(self.tz)
        for offset in range(1, 15):
            day = datetime.combine(local.date() + timedelta(days=offset), self.start, tzinfo=self.tz)
            if not self.days or day.weekday() in self.days:
                return day.astimezone(after.tzinfo)
        return after + timedelta(days=1)


def sla_minutes(slack: SlackConfig, priority: str) -> int:
    return int(slack.sla_minutes.get(priority, DEFAULT_SLA_MINUTES.get(priority, DEFAULT_SLA_MINUTES["low"])))


def sla_due(created_at: datetime, priority: str, *, slack: SlackConfig, hours: BusinessHours) -> datetime:
    """When an item of this priority, queued at `created_at`, must be claimed by."""
    minutes = sla_minutes(slack, priority)
    if priority in slack.sla_around_the_clock:
        return created_at + timedelta(minutes=minutes)
    return hours.add_minutes(created_at, minutes)


@dataclass(frozen=True)
class SlaState:
    due_at: datetime
    status: str  # running | breached | met | closed
    minutes: int  # minutes left (running) or late (breached)

    def describe(self) -> str:
        if self.status == "running":
            return f"claim within {human_minutes(self.minutes)}"
        if self.status == "breached":
            return f"SLA missed by {human_minutes(self.minutes)}"
        return "SLA met" if self.status == "met" else "closed"


def sla_state(item: QueueItem, *, slack: SlackConfig, hours: BusinessHours, now: datetime) -> SlaState:
    """SLA of a queue item: the clock runs from the item's creation until someone claims it."""
    due = sla_due(item.created_at, item.priority, slack=slack, hours=hours)
    if item.state in UNCLAIMED_STATES or item.state == "snoozed":
        left = (due - now).total_seconds() / 60
        if left >= 0:
            return SlaState(due, "running", int(left))
        return SlaState(due, "breached", int(-left))
    if item.state in ("dismissed", "answered_elsewhere"):
        return SlaState(due, "closed", 0)
    return SlaState(due, "met", 0)


def human_minutes(minutes: float) -> str:
    minutes = int(minutes)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes // (24 * 60)} days"


def snooze_until(choice: str, *, now: datetime, hours: BusinessHours) -> datetime:
    """1 h, 4 h, or the next working morning in the team's time zone."""
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "4h":
        return now + timedelta(hours=4)
    if choice == "tomorrow":
        return hours.next_opening(now)
    raise ValueError(f"unknown snooze choice {choice!r}; use one of {', '.join(SNOOZE_CHOICES)}")
