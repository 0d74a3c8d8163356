"""The X request budget `watcher check` shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.x.budget import EndpointLimit, budget_problems, plan_budget, polls_per_window, shortest_interval
from tests.connectors.x.support import make_config
from watcher.core.config import SourceConfig


def sources(tmp_path: Path, **tables: dict[str, Any]) -> tuple[SourceConfig, ...]:
    full = {name: {"kind": "x", **table} for name, table in tables.items()}
    return make_config(tmp_path, full).sources


@pytest.mark.parametrize(
    ("interval", "window", "expected"),
    [(300, 900, 3), (60, 900, 15), (3600, 900, 1), (301, 900, 3), (1, 86400, 86400)],
)
def test_polls_per_window(interval: int, window: int, expected: int) -> None:
    assert polls_per_window(interval, window) == expected


def test_plan_sums_the_sources_sharing_an_endpoint(tmp_path: Path) -> None:
    configured = sources(
        tmp_path,
        mentions={"mode": "mentions", "user_id": "1", "interval_seconds": 120},
        search={"mode": "search", "query": "acme", "interval_seconds": 60},
        threads={"mode": "conversations", "user_id": "1", "interval_seconds": 300},
    )

    lines = {line.endpoint: line for line in plan_budget(configured)}

    mentions = lines["users_mentions"]
    assert (mentions.planned_per_window, mentions.allowed_per_window, mentions.ok) == (8, 10, True)
    assert mentions.planned_per_day == 720 and mentions.allowed_per_day == 960
    search = lines["search_recent"]
    assert search.sources == ("search", "threads")
    assert (search.planned_per_window, search.allowed_per_window) == (15 + 3, 60)
    assert search.planned_per_day == 1440 + 288
    assert lines["create_tweet"].allowed_per_window == 100 and lines["create_tweet"].window_seconds == 86400
    assert [line.endpoint for line in plan_budget(configured)] == ["users_mentions", "search_recent", "create_tweet"]


def test_over_budget_names_the_keys_and_the_interval_that_fits(tmp_path: Path) -> None:
    configured = sources(
        tmp_path,
        a={"mode": "mentions", "user_id": "1", "interval_seconds": 60},
        b={"mode": "mentions", "user_id": "1", "interval_seconds": 60, "enabled": False},
    )

    [line] = [line for line in plan_budget(configured) if line.endpoint == "users_mentions"]
    assert not line.ok and line.min_interval_seconds == 90
    assert "OVER BUDGET" in line.describe() and "at least 90" in line.describe()
    [problem] = budget_problems(configured)
    assert problem.key == "sources.a.interval_seconds"
    assert "15 requests per 15 min" in problem.reason and "allows 10" in problem.reason


def test_tier_and_overrides_change_the_allowance(tmp_path: Path) -> None:
    pro = sources(tmp_path, a={"mode": "mentions", "user_id": "1", "interval_seconds": 60, "tier": "pro"})
    assert budget_problems(pro) == []
    assert budget_problems(pro, tier="free")  # the caller can check another tier

    custom = sources(
        tmp_path,
        a={"mode": "search", "query": "x", "interval_seconds": 30, "rate_limits": {"search_recent": 25}},
    )
    [line, _] = plan_budget(custom)
    assert line.allowed_per_window == 25 and line.tier == "basic+overrides"
    assert line.describe().startswith("x GET /2/tweets/search/recent [basic+overrides]: 30 of 25 requests per 15 min")


def test_non_x_sources_are_ignored(tmp_path: Path) -> None:
    replay = make_config(tmp_path, {"demo": {"kind": "replay", "path": "x.jsonl"}}).sources

    assert plan_budget(replay) == []


def test_sources_on_different_apps_are_planned_apart(tmp_path: Path) -> None:
    same_app = sources(
        tmp_path,
        a={"mode": "mentions", "user_id": "1", "interval_seconds": 120},
        b={"mode": "mentions", "user_id": "2", "interval_seconds": 120},
    )
    [shared] = [line for line in plan_budget(same_app) if line.endpoint == "users_mentions"]
    assert shared.planned_per_window == 16 and not shared.ok  # one app: 8 + 8 against 10

    two_apps = sources(
        tmp_path,
        a={"mode": "mentions", "user_id": "1", "interval_seconds": 120},
        b={"mode": "mentions", "user_id": "2", "interval_seconds": 120, "bearer_token_env": "X_OTHER_APP_TOKEN"},
    )
    lines = [line for line in plan_budget(two_apps) if line.endpoint == "users_mentions"]
    assert [(line.sources, line.planned_per_window, line.ok) for line in lines] == [
        (("a",), 8, True),
        (("b",), 8, True),
    ]

    # another host (a gateway or proxy) counts apart too, as the connector's rate windows do;
    # the public host spelled out is the same host as the default
    two_hosts = sources(
        tmp_path,
        a={"mode": "mentions", "user_id": "1", "interval_seconds": 120},
        b={"mode": "mentions", "user_id": "2", "interval_seconds": 120, "api_base_url": "https://x-gateway.example"},
        c={"mode": "mentions", "user_id": "3", "interval_seconds": 120, "api_base_url": "https://api.x.com"},
    )
    lines = [line for line in plan_budget(two_hosts) if line.endpoint == "users_mentions"]
    assert sorted((line.sources, line.planned_per_window) for line in lines) == [(("a", "c"), 16), (("b",), 8)]


def test_native_reply_checks_are_planned_on_the_brand_timeline(tmp_path: Path) -> None:
    configured = sources(
        tmp_path,
        mentions={"mode": "mentions", "user_id": "1", "interval_seconds": 120},
        search={"mode": "search", "query": "acme", "interval_seconds": 60},  # no user_id: never checked
        threads={"mode": "conversations", "user_id": "2", "interval_seconds": 300},  # a second brand account
    )
    assert "users_tweets" not in {line.endpoint for line in plan_budget(configured)}  # Slack off

    [line] = [line for line in plan_budget(configured, native_check_minutes=10) if line.endpoint == "users_tweets"]
    # two brand timelines, up to 2 pages each, at most 2 checks in any 15 minutes: 8 of basic's 10
    assert (line.sources, line.planned_per_window, line.allowed_per_window, line.ok) == (
        ("mentions", "threads"),
        8,
        10,
        True,
    )
    assert line.planned_per_day == 4 * 144
    assert "native-reply checks every 10 min" in line.describe()

    [line] = [line for line in plan_budget(configured, native_check_minutes=5) if line.endpoint == "users_tweets"]
    assert (line.planned_per_window, line.ok) == (12, False)
    assert "raise slack.native_reply_check_minutes to at least 8" in line.describe()  # 7.5 min: 2 a window
    [problem] = budget_problems(configured, native_check_minutes=5)
    assert problem.key == "slack.native_reply_check_minutes"
    assert "mentions, threads" in problem.reason and "at least 8" in problem.reason


@pytest.mark.parametrize(("sources_on_app", "requests"), [(1, 10), (2, 10), (3, 10), (4, 60), (7, 450), (3, 1)])
def test_the_suggested_interval_fits_the_allowance(sources_on_app: int, requests: int) -> None:
    limit = EndpointLimit(requests, 900)
    interval = shortest_interval(limit, sources_on_app)
    within = polls_per_window(interval, 900) * sources_on_app <= requests
    assert within or sources_on_app > requests  # three sources on one request a window: no interval fits
    assert interval == 900 or polls_per_window(interval - 1, 900) * sources_on_app > requests  # and it is the shortest


def test_when_no_interval_fits_the_fix_is_a_higher_tier(tmp_path: Path) -> None:
    six = sources(
        tmp_path,
        **{f"s{n}": {"mode": "mentions", "user_id": str(n + 1), "interval_seconds": 1800} for n in range(6)},
    )
    [line] = [line for line in plan_budget(six, native_check_minutes=60) if line.endpoint == "users_tweets"]
    assert (line.planned_per_window, line.ok, line.min_interval_seconds) == (12, False, 0)  # one check is 12 of 10
    assert "no interval fits this tier" in line.describe()
    [problem] = budget_problems(six, native_check_minutes=60)
    assert problem.key == "slack.native_reply_check_minutes" and "higher tier" in problem.reason
    assert shortest_interval(EndpointLimit(1, 900), 3) == 0


def test_sources_of_one_brand_account_share_one_native_check(tmp_path: Path) -> None:
    configured = sources(
        tmp_path,
        mentions={"mode": "mentions", "user_id": "1", "interval_seconds": 300},
        search={"mode": "search", "query": "acme", "user_id": "1", "interval_seconds": 300},
        threads={"mode": "conversations", "user_id": "1", "interval_seconds": 300},
        second={"mode": "mentions", "user_id": "2", "interval_seconds": 300},
        elsewhere={"mode": "mentions", "user_id": "1", "interval_seconds": 300, "bearer_token_env": "X_OTHER"},
    )

    lines = [line for line in plan_budget(configured, native_check_minutes=10) if line.endpoint == "users_tweets"]

    # app X_BEARER_TOKEN: account 1 (three sources, one read) and account 2; app X_OTHER: account 1 again
    assert [(line.sources, line.shared, line.planned_per_window) for line in lines] == [
        (("mentions", "search", "threads", "second"), (("mentions", "search", "threads"),), 8),
        (("elsewhere",), (), 4),
    ]
    assert lines[0].planned_per_day == 2 * 2 * 144
    assert "mentions, search and threads share one read (same app and user_id)" in lines[0].describe()
    assert "share" not in lines[1].describe()

    [line] = [line for line in plan_budget(configured[:3], native_check_minutes=2) if line.endpoint == "users_tweets"]
    assert (line.planned_per_window, line.min_interval_seconds) == (16, 180)  # one check of 2 pages, 8 a window
    [problem] = budget_problems(configured[:3], native_check_minutes=2)
    assert problem.key == "slack.native_reply_check_minutes"
    assert "16 requests per 15 min" in problem.reason and "share one read" in problem.reason
    assert "at least 3" in problem.reason


def test_disabled_sources_are_planned_for_their_native_checks_only(tmp_path: Path) -> None:
    configured = sources(
        tmp_path,
        mentions={"mode": "mentions", "user_id": "1", "interval_seconds": 300},
        old_search={"mode": "search", "query": "acme", "user_id": "1", "interval_seconds": 60, "enabled": False},
        old_brand={"mode": "mentions", "user_id": "2", "interval_seconds": 60, "enabled": False},
        broken={"mode": "mentions", "user_id": "3", "enabled": False, "tier": "gold"},  # never built: never checked
    )

    assert {line.endpoint: line.sources for line in plan_budget(configured)} == {
        "users_mentions": ("mentions",),  # disabled sources are not polled
        "create_tweet": (),
    }
    [line] = [line for line in plan_budget(configured, native_check_minutes=10) if line.endpoint == "users_tweets"]
    # account 1: one read for mentions and the disabled old_search; account 2: old_brand's open items
    assert (line.sources, line.disabled, line.planned_per_window) == (
        ("mentions", "old_search", "old_brand"),
        ("old_search", "old_brand"),
        8,
    )
    assert "old_search and old_brand disabled but still checked for open items" in line.describe()


def test_a_source_with_an_unknown_tier_is_left_to_its_own_validation(tmp_path: Path) -> None:
    configured = sources(tmp_path, a={"mode": "mentions", "user_id": "1", "tier": "gold"})

    assert plan_budget(configured, native_check_minutes=10) == []  # from_config reports sources.a.tier
    assert budget_problems(configured, native_check_minutes=10) == []
