"""Digest figures against hand-computed values (fixture: tests/watcher/digest/fixture.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.watcher.digest.fixture import SUNDAY, TZ, at, build
from watcher.digest.figures import (
    SLA_DEFAULTS,
    ResponseStats,
    build_intents,
    build_responses,
    collect_digest,
    percentile,
    quarter_start,
    sla_targets,
)
from watcher.digest.windows import DigestError, parse_moment, period_window
from watcher.store import Store

NOW = at("2026-10-26T08:00:00")  # Monday morning, Rome


@pytest.fixture
def store(store: Store) -> Store:
    """The shared empty store, filled with the hand-checkable fixture."""
    build(store)
    return store


def sunday(store: Store, *, now: datetime = NOW):  # type: ignore[no-untyped-def]
    window = period_window("day", timezone=TZ, now=now, since=parse_moment(SUNDAY, TZ))
    return collect_digest(store, window, sla_targets=SLA_DEFAULTS, now=now, brand_terms=("Lumo",))


# --- periods ------------------------------------------------------------------------


def test_the_day_clocks_go_back_lasts_25_hours_with_the_repeated_hour_named() -> None:
    window = period_window("day", timezone=TZ, now=NOW)  # the last complete day before Monday 09:00
    assert (window.since, window.until) == (at("2026-10-24T22:00:00"), at("2026-10-25T23:00:00"))
    assert len(window.buckets) == 25
    labels = [window.bucket_label(i) for i in range(25)]
    assert labels[:5] == ["00:00", "01:00", "02:00 (UTC+02)", "02:00 (UTC+01)", "03:00"]
    assert labels[-1] == "23:00"
    assert window.label() == "Sun 25 Oct 2026"


def test_the_day_clocks_go_forward_lasts_23_hours() -> None:
    window = period_window("day", timezone=TZ, now=NOW, since=parse_moment("2026-03-29", TZ))
    assert (window.since, window.until) == (at("2026-03-28T23:00:00"), at("2026-03-29T22:00:00"))
    assert [window.bucket_label(i) for i in range(3)] == ["00:00", "01:00", "03:00"]


@pytest.mark.parametrize(
    ("now", "since", "until"),
    [
        # Monday 26 Oct 08:00 UTC: last complete week is Mon 19 to Mon 26, 167 hours long
        ("2026-10-26T08:00:00", "2026-10-18T22:00:00", "2026-10-25T23:00:00"),
        # a Sunday night still reports the week before
        ("2026-11-01T22:30:00", "2026-10-18T22:00:00", "2026-10-25T23:00:00"),
        # Sunday 1 Nov 23:30 UTC is already Monday 2 Nov 00:30 in Rome
        ("2026-11-01T23:30:00", "2026-10-25T23:00:00", "2026-11-01T23:00:00"),
    ],
)
def test_last_complete_week_starts_monday_local_midnight(now: str, since: str, until: str) -> None:
    window = period_window("week", timezone=TZ, now=at(now))
    assert (window.since, window.until) == (at(since), at(until))
    assert window.bucket_unit == "day"
    assert [window.bucket_label(i) for i in (0, 6)] == [
        window.local(at(since)).strftime("%a %d %b"),
        "Sun " + window.local(window.buckets[6]).strftime("%d %b"),
    ]


def test_previous_period_is_the_calendar_day_before() -> None:
    window = period_window("day", timezone=TZ, now=NOW)
    previous = window.previous()
    assert (previous.since, previous.until) == (at("2026-10-23T22:00:00"), at("2026-10-24T22:00:00"))
    week = period_window("week", timezone=TZ, now=NOW).previous()
    assert (week.since, week.until) == (at("2026-10-11T22:00:00"), at("2026-10-18T22:00:00"))


def test_custom_window_and_moment_parsing() -> None:
    since = parse_moment("2026-10-25T09:00", TZ)
    until = parse_moment("2026-10-25T12:00+01:00", TZ)
    window = period_window("day", timezone=TZ, now=NOW, since=since, until=until)
    assert (window.period, window.since, window.until) == ("custom", at("2026-10-25T08:00:00"), until)
    assert len(window.buckets) == 3
    assert window.previous().until == window.since
    assert parse_moment("2026-10-25T08:00:00Z", TZ) == at("2026-10-25T08:00:00")
    long = period_window("day", timezone=TZ, now=NOW, since=parse_moment("2026-10-20", TZ), until=NOW)
    assert long.bucket_unit == "day" and long.buckets[1] == at("2026-10-20T22:00:00")


@pytest.mark.parametrize(
    ("text", "message"),
    [("yesterday", "not a date"), ("2026-13-01", "not a date")],
)
def test_bad_moments_say_which_option(text: str, message: str) -> None:
    with pytest.raises(DigestError, match=f"--until '{text}' is {message}"):
        parse_moment(text, TZ, option="--until")


def test_until_before_since_is_refused() -> None:
    with pytest.raises(DigestError, match="must be after"):
        period_window("day", timezone=TZ, now=NOW, since=NOW, until=NOW - timedelta(hours=1))


def test_quarter_keys_map_to_their_utc_start() -> None:
    assert quarter_start("2026-10-25T01:2") == at("2026-10-25T01:30:00")
    assert quarter_start("2026-10-25T23:3") == at("2026-10-25T23:45:00")


# --- volume and sentiment on the fixture ------------------------------------------------


def test_volume_counts_the_25_hour_day_and_compares_with_saturday(store: Store) -> None:
    digest = sunday(store)
    v = digest.volume
    assert (v.total, v.previous_total) == (4, 2)  # p2 p3 p4 p5; p0 p1 (own, dup, p6 left out)
    assert v.change_pct == 100.0
    assert [(c.name, c.count, c.previous, c.change_pct) for c in v.by_platform] == [
        ("x", 3, 1, 200.0),
        ("reddit", 1, 1, 0.0),
    ]
    assert [(c.name, c.count) for c in v.by_source] == [("x_mentions", 3), ("reddit_mentions", 1)]
    assert v.sentiment == {"negative": 2, "positive": 1, "neutral": 1}
    assert (v.share("negative"), v.share("negative", previous=True)) == (0.5, 0.5)
    assert v.languages == (("en", 3), ("it", 1))
    per_hour = [b.total for b in v.series]
    assert len(per_hour) == 25 and sum(per_hour) == 4
    assert {i: n for i, n in enumerate(per_hour) if n} == {0: 1, 2: 1, 3: 1, 24: 1}
    assert v.series[2].counts == {"negative": 1} and v.series[3].counts == {"positive": 1}


def test_week_buckets_are_local_days(store: Store) -> None:
    window = period_window("week", timezone=TZ, now=NOW)
    digest = collect_digest(store, window, sla_targets=SLA_DEFAULTS, now=NOW)
    assert [b.total for b in digest.volume.series] == [0, 0, 0, 0, 0, 2, 4]  # Sat: p0 p1, Sun: p2-p5
    assert digest.volume.total == 6 and digest.volume.previous_total == 0
    assert digest.volume.change_pct is None


def test_intents_count_each_listed_intent(store: Store) -> None:
    digest = sunday(store)
    assert [(i.intent, i.posts, i.negative) for i in digest.intents] == [
        ("refund", 2, 2),
        ("complaint", 1, 1),
        ("question", 1, 0),
    ]
    assert build_intents([("2026-10-25T01:0", "neutral", "x", "", "en", "not json", 3)]) == ()


def test_top_posts_rank_by_followers_plus_engagement(store: Store) -> None:
    digest = sunday(store)
    assert [(p["key"], p["reach"]) for p in digest.top_posts] == [
        ("x:p2", 5000),
        ("reddit:p4", 300),
        ("x:p3", 50),
        ("x:p5", 10),
    ]


def test_themes_group_refund_phrases_with_examples_by_reach(store: Store) -> None:
    digest = sunday(store)
    assert list(digest.themes) == ["en"]
    (theme,) = digest.themes["en"]
    # both phrases are in both posts: the theme is named after both, longest first
    assert (theme.label, theme.phrases, theme.posts, theme.sample) == ("waiting · refund", ("refund", "waiting"), 2, 2)
    assert [e.key for e in theme.examples] == ["x:p2", "x:p3"]


# --- response times -------------------------------------------------------------------------


def test_response_figures_per_priority_and_agent(store: Store) -> None:
    r = sunday(store).responses
    o = r.overall
    assert (o.items, o.handled, o.dismissed, o.escalated, o.open) == (4, 2, 1, 1, 1)
    assert o.response_seconds == (600.0, 5400.0)
    assert o.median_seconds == pytest.approx(3000.0)  # (10 min + 90 min) / 2
    assert o.p90_seconds == pytest.approx(600 + 0.9 * 4800)
    # due: p2 (met), p3 (missed), p5 (open 9 h > 4 h); p4 dismissed is not due
    assert (o.within_sla, o.sla_due, o.sla_share) == (1, 3, pytest.approx(1 / 3))
    by_priority = {s.group: s for s in r.by_priority}
    assert list(by_priority) == ["urgent", "high", "normal"]
    assert (by_priority["urgent"].median_seconds, by_priority["urgent"].sla_share) == (600.0, 1.0)
    assert (by_priority["high"].median_seconds, by_priority["high"].sla_share) == (5400.0, 0.0)
    normal = by_priority["normal"]
    assert (normal.items, normal.median_seconds, normal.sla_due, normal.sla_share) == (2, None, 1, 0.0)
    assert [(a.group, a.items, a.handled, a.dismissed) for a in r.by_agent] == [("ben", 2, 1, 1), ("ana", 1, 1, 0)]


def test_an_open_item_inside_its_target_is_not_yet_due(store: Store) -> None:
    early = at("2026-10-25T23:30:00")  # p5 is 31 minutes old, its target is 4 hours
    o = sunday(store, now=early).responses.overall
    assert (o.within_sla, o.sla_due) == (1, 2)


def test_agent_falls_back_to_whoever_closed_the_item(store: Store) -> None:
    item = store.items.item_for_post("reddit:p4")
    assert item is not None
    store.items.update_item(item.id, expected_version=item.version, changes={"assignee": None}, now=NOW)
    store.items.add_event(
        item.id, "reddit:p4", "dismiss", actor="cleo", from_state="new", to_state="dismissed", now=NOW
    )
    agents = {a.group: a.items for a in sunday(store).responses.by_agent}
    assert agents == {"ana": 1, "ben": 1, "cleo": 1}


def test_sla_targets_take_config_overrides() -> None:
    targets = sla_targets({"high": 30})
    assert targets["high"] == timedelta(minutes=30) and targets["urgent"] == SLA_DEFAULTS["urgent"]
    rows = [
        {
            "priority": "high",
            "state": "replied",
            "escalated": 0,
            "response_seconds": 45 * 60.0,
            "agent": "x",
            "post_created_at": "2026-10-25T10:00:00+00:00",
        },
    ]
    assert build_responses(rows, sla_targets=SLA_DEFAULTS, now=NOW).overall.sla_share == 1.0
    assert build_responses(rows, sla_targets=targets, now=NOW).overall.sla_share == 0.0


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([7.0], 50, 7.0),
        ([7.0], 90, 7.0),
        ([1.0, 2.0], 50, 1.5),
        ([0.0, 10.0], 90, 9.0),
        ([5.0, 1.0, 3.0], 50, 3.0),
    ],
)
def test_percentile_interpolates_between_ranks(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == expected


# --- empty periods and a single post --------------------------------------------------------


def test_an_empty_period_has_zeros_and_no_shares(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.db") as empty:
        digest = sunday(empty)
    v, o = digest.volume, digest.responses.overall
    assert (v.total, v.previous_total, v.change_pct, v.share("negative")) == (0, 0, None, None)
    assert len(v.series) == 25 and all(b.total == 0 and b.negative_share is None for b in v.series)
    assert (digest.intents, digest.themes, digest.top_posts) == ((), {}, ())
    assert (o.items, o.median_seconds, o.sla_share) == (0, None, None)
    assert ResponseStats("x").p90_seconds is None


def test_a_single_post(tmp_path: Path) -> None:
    from tests.watcher.digest.fixture import add, post, respond

    with Store(tmp_path / "one.db") as one:
        key = add(one, post("solo", "2026-10-25T09:15:00", "the app crashes at login"), "negative")
        respond(one, key, priority="urgent", state="replied", agent="ana", after_minutes=20)
        digest = sunday(one)
    assert digest.volume.total == 1 and digest.volume.change_pct is None
    # 09:15 UTC is 10:15 CET: bucket 11, not 10, because 02:00 came twice that night
    assert digest.volume.series[11].counts == {"negative": 1}
    assert digest.volume.series[11].label == "10:00"
    assert digest.themes == {}  # a theme needs a phrase in two posts
    o = digest.responses.overall
    assert (o.median_seconds, o.p90_seconds, o.sla_share) == (1200.0, 1200.0, 0.0)


def test_posts_created_exactly_at_the_boundaries(tmp_path: Path) -> None:
    from tests.watcher.digest.fixture import add, post

    with Store(tmp_path / "edge.db") as edge:
        add(edge, post("start", "2026-10-24T22:00:00", "a"), "neutral")  # Sunday 00:00 CEST: in
        add(edge, post("end", "2026-10-25T23:00:00", "b"), "neutral")  # Monday 00:00 CET: out
        add(edge, post("before", "2026-10-24T21:59:59.999999", "c"), "neutral")  # out
        digest = sunday(edge)
    assert digest.volume.total == 1 and digest.volume.previous_total == 1


def test_now_is_always_utc_aware() -> None:
    assert NOW.tzinfo is UTC
