"""YouTube's daily quota: what the configured polling spends against what the project
allows, keeping the replies' share.

A Google Cloud project has 10,000 units a day by default (reset at midnight Pacific
time); a list costs 1 unit, a reply (comments.insert) 50. Every YouTube source spends
one unit per idle poll (commentThreads.list) and, with Slack's native-reply check on,
one per open item per check (comments.list). Sources whose OAuth client is the same
share one project's quota. `watcher check` shows a line per project and refuses a
config that leaves less than `reply_reserve` replies a day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.shared import count_option
from watcher.core.config import ConfigProblem, SourceConfig

DAY_SECONDS = 86_400
DAILY_QUOTA = 10_000
LIST_COST = 1
REPLY_COST = 50
DEFAULT_REPLY_RESERVE = 40  # replies a day kept for the team: 2,000 units
NATIVE_CHECK_ITEMS = 10  # open items assumed per native-reply check (one comments.list each)
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")


def next_quota_reset(now: datetime) -> datetime:
    """Midnight Pacific time after `now`, in UTC: when the daily quota starts again."""
    local = now.astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), QUOTA_ZONE)
    return midnight.astimezone(now.tzinfo)


def quota_day(now: datetime) -> str:
    return now.astimezone(QUOTA_ZONE).date().isoformat()


@dataclass(frozen=True)
class QuotaLine:
    """One project's day: units the polling plans, units kept for replies, the quota."""

    project: str  # the OAuth client variable the sources share
    sources: tuple[str, ...]
    files: tuple[str, ...]
    polling_units: int
    check_units: int
    reserve_replies: int
    daily_quota: int
    min_interval_seconds: int  # the shortest equal interval that keeps the reserve (0: none does)

    @property
    def reserved_units(self) -> int:
        return self.reserve_replies * REPLY_COST

    @property
    def ok(self) -> bool:
        return self.polling_units + self.check_units + self.reserved_units <= self.daily_quota

    @property
    def text(self) -> str:
        checks = f" + {self.check_units} for native-reply checks" if self.check_units else ""
        return (
            f"youtube quota ({self.project}): polling {self.polling_units} units/day{checks} by "
            f"{', '.join(self.sources)}, {self.reserved_units} kept for {self.reserve_replies} replies "
            f"({REPLY_COST} each), of {self.daily_quota}"
        )

    @property
    def fix(self) -> str:
        if self.ok:
            return ""
        if not self.min_interval_seconds:
            return "lower reply_reserve, ask Google for more quota, or use another project"
        return f"raise interval_seconds to at least {self.min_interval_seconds} (or lower reply_reserve)"

    def describe(self) -> str:
        return self.text if self.ok else f"{self.text}: over; {self.fix}"


def plan_budget(sources: Iterable[SourceConfig], *, native_check_minutes: int = 0) -> list[QuotaLine]:
    """A line per project (OAuth client) of the YouTube sources. Pure: reads only the configs."""
    projects: dict[str, list[SourceConfig]] = {}
    for cfg in sources:
        if cfg.kind == "youtube":
            projects.setdefault(str(cfg.options.get("client_id_env") or "YOUTUBE_CLIENT_ID"), []).append(cfg)
    lines = []
    for project, group in projects.items():
        enabled = [cfg for cfg in group if cfg.enabled]
        quota = max(count_option(cfg, "daily_quota", DAILY_QUOTA) for cfg in group)
        reserve = max(count_option(cfg, "reply_reserve", DEFAULT_REPLY_RESERVE) for cfg in group)
        polling = sum(LIST_COST * (DAY_SECONDS // max(cfg.interval_seconds, 1)) for cfg in enabled)
        checks = (
            (DAY_SECONDS // (native_check_minutes * 60)) * NATIVE_CHECK_ITEMS * LIST_COST if native_check_minutes else 0
        )
        spare = quota - reserve * REPLY_COST - checks
        shortest = math.ceil(DAY_SECONDS * len(enabled) * LIST_COST / spare) if spare > 0 and enabled else 0
        lines.append(
            QuotaLine(
                project=project,
                sources=tuple(cfg.name for cfg in enabled) or tuple(cfg.name for cfg in group),
                files=tuple(cfg.file for cfg in group),
                polling_units=polling,
                check_units=checks,
                reserve_replies=reserve,
                daily_quota=quota,
                min_interval_seconds=shortest,
            )
        )
    return lines


def budget_problems(sources: Iterable[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
    """Over-quota projects as config problems naming the keys to change."""
    problems = []
    for line in plan_budget(sources, native_check_minutes=native_check_minutes):
        if not line.ok:
            keys = ", ".join(f"sources.{name}.interval_seconds" for name in line.sources)
            problems.append(ConfigProblem(line.files[0], keys, f"{line.text}: polling leaves too little; {line.fix}"))
    return problems
