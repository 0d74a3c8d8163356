"""YouTube's quota plan (pure): units a day by polling and checks, the replies' share kept,
and what `watcher check` says when the configured intervals leave too little."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.youtube.budget import budget_problems, next_quota_reset, plan_budget
from watcher.core.config import SourceConfig


def yt(name: str, interval: int, **options: object) -> SourceConfig:
    return SourceConfig(name=name, kind="youtube", interval_seconds=interval, options=options)


def test_one_source_every_five_minutes_fits_with_the_default_reserve() -> None:
    [line] = plan_budget([yt("yt", 300)])
    assert (line.polling_units, line.reserved_units, line.daily_quota, line.ok) == (288, 2000, 10_000, True)
    assert line.describe().startswith("youtube quota (YOUTUBE_CLIENT_ID): polling 288 units/day by yt, 2000 kept")


def test_polling_that_eats_the_replies_share_is_refused_with_the_interval_that_fits() -> None:
    sources = [yt("a", 10), yt("b", 60, reply_reserve=100)]  # 8640 + 1440 units, 5000 kept
    [line] = plan_budget(sources)
    assert not line.ok and line.min_interval_seconds == 35  # 2 sources * 86400 / 5000 spare units
    [problem] = budget_problems(sources)
    assert problem.key == "sources.a.interval_seconds, sources.b.interval_seconds"
    assert "raise interval_seconds to at least 35" in problem.reason


def test_native_reply_checks_and_projects_are_planned_apart() -> None:
    lines = plan_budget([yt("a", 300), yt("b", 300, client_id_env="OTHER_CLIENT")], native_check_minutes=15)
    assert [(line.project, line.check_units) for line in lines] == [("YOUTUBE_CLIENT_ID", 960), ("OTHER_CLIENT", 960)]
    assert all(line.ok for line in lines) and plan_budget([SourceConfig(name="x", kind="x")]) == []


def test_a_disabled_source_does_not_poll() -> None:
    [line] = plan_budget([SourceConfig(name="off", kind="youtube", enabled=False, interval_seconds=1)])
    assert line.polling_units == 0 and line.ok


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (datetime(2026, 11, 20, 12, 0, tzinfo=UTC), datetime(2026, 11, 21, 8, 0, tzinfo=UTC)),  # PST
        (datetime(2026, 7, 1, 6, 59, tzinfo=UTC), datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),  # PDT, a minute before
    ],
)
def test_the_quota_resets_at_midnight_pacific(now: datetime, reset: datetime) -> None:
    assert next_quota_reset(now) == reset
