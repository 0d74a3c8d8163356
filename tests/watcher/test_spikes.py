"""Spike alerts: the statistics by hand, once per spike, example posts in the alert."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.watcher.digest_fixture import add, at, post
from watcher.spikes import (
    Hour,
    Spike,
    SpikeRule,
    alert_payload,
    check_spikes,
    detect_spikes,
    evaluate,
    hourly_series,
    same_local_hour,
    share_z,
    volume_z,
)
from watcher.store import Store

START = at("2026-11-01T00:00:00")
RULE = SpikeRule(threshold=4.0, volume_ratio=2.0, min_posts=5, min_share_rise=0.15)


def hours(counts: list[int], negative: list[int] | None = None) -> list[Hour]:
    negative = negative or [0] * len(counts)
    return [Hour(START + timedelta(hours=i), n, neg) for i, (n, neg) in enumerate(zip(counts, negative, strict=True))]


def test_volume_z_is_robust_and_floored_by_poisson_noise() -> None:
    z, median = volume_z(30, [10] * 7)  # MAD 0: the scale is sqrt(10)
    assert median == 10 and z == pytest.approx(20 / math.sqrt(10))
    z, median = volume_z(30, [2, 4, 6, 8, 10, 12, 100])  # median 8, MAD 4 -> scale 5.93
    assert median == 8 and z == pytest.approx(22 / (1.4826 * 4))
    assert volume_z(3, []) == (3.0, 0.0)


def test_share_z_against_the_pooled_share() -> None:
    z, p0 = share_z(12, 20, 100, 1000)
    assert p0 == 0.1 and z == pytest.approx((0.6 - 0.1) / math.sqrt(0.1 * 0.9 / 20))
    assert share_z(0, 0, 5, 10) == (0.0, 0.5)
    z, p0 = share_z(5, 10, 0, 1000)  # a spotless week still leaves room for noise
    assert p0 == 0.0 and z == pytest.approx((0.5 - 0.02) / math.sqrt(0.02 * 0.98 / 10))


def test_an_hour_needs_a_week_of_history_and_enough_posts() -> None:
    flat = hours([2] * 168 + [30])
    assert evaluate(flat, 167, RULE) == {}  # not 7 days of hours before it
    found = evaluate(flat, 168, RULE)
    assert list(found) == ["volume"]
    assert found["volume"][:2] == (30.0, 2)
    assert evaluate(hours([2] * 168 + [4]), 168, RULE) == {}  # below min_posts


def test_the_daily_rhythm_is_not_a_spike() -> None:
    # every day 20 posts at 09:00 and 1 otherwise: 09:00 today is as usual
    day = [1] * 9 + [20] + [1] * 14
    assert detect_spikes(hours(day * 8)[: 7 * 24 + 10], RULE) == []


def test_negative_share_spike_without_a_volume_spike() -> None:
    counts = [10] * 168 + [20]
    negative = [1] * 168 + [12]
    found = evaluate(hours(counts, negative), 168, RULE)
    assert list(found) == ["negative_share"]  # volume z = 10 / sqrt(10) = 3.2 < 4
    share, p0, z = found["negative_share"]
    assert (share, p0) == (0.6, 0.1) and z == pytest.approx(0.5 / math.sqrt(0.09 / 20))


def test_consecutive_spiking_hours_are_one_spike_named_by_its_first_hour() -> None:
    series = hours([2] * 168 + [30, 40, 35])
    spikes = detect_spikes(series, RULE, last=3)
    assert [(s.hour, s.started) for s in spikes] == [
        (START + timedelta(hours=h), START + timedelta(hours=168)) for h in (168, 169, 170)
    ]
    assert {s.dedupe_key for s in spikes} == {"spike:volume:2026-11-08T00"}
    # a quiet hour ends it; the next burst is a new spike
    again = detect_spikes(hours([2] * 168 + [30, 2, 30]), RULE, last=1)
    assert [s.dedupe_key for s in again] == ["spike:volume:2026-11-08T02"]


def test_hourly_series_fills_empty_hours() -> None:
    rows = [("2026-11-01T00:0", "negative", 2), ("2026-11-01T00:3", "neutral", 1), ("2026-11-01T02:1", "neutral", 4)]
    series = hourly_series(rows, since=START, until=START + timedelta(hours=3))
    assert [(h.posts, h.negative) for h in series] == [(3, 2), (0, 0), (4, 0)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "spikes.db")
    yield db
    db.close()


def test_check_spikes_queues_one_alert_per_spike_with_examples(store: Store) -> None:
    # two posts an hour for 8 days, then 12 an hour for two hours, 10 of them negative
    n = 0
    for h in range(8 * 24):
        for m in (10, 40):
            n += 1
            add(store, post(f"b{n}", (START + timedelta(hours=h, minutes=m)).isoformat()[:19], "fine"), "neutral")
    burst = START + timedelta(days=8)
    for h in range(2):
        for i in range(12):
            n += 1
            when = (burst + timedelta(hours=h, minutes=i * 4)).isoformat()[:19]
            text = f"card declined at checkout {i}"
            add(store, post(f"s{n}", when, text, followers=100 * i), "negative" if i < 10 else "neutral")
    channel = "C0ALERTS"

    def check_at(minutes: int) -> list[Spike]:
        now = burst + timedelta(minutes=minutes)
        return check_spikes(store, rule=RULE, channel=channel, timezone="Europe/Rome", brand="Lumo", clock=lambda: now)

    first = check_at(65)
    assert {(s.statistic, s.started) for s in first} == {("volume", burst), ("negative_share", burst)}
    later = check_at(125)
    assert {s.started for s in later} == {burst}  # the same spike, an hour longer
    rows = store.due_outbox(now=burst + timedelta(hours=3))
    assert sorted(r["dedupe_key"] for r in rows) == ["spike:negative_share:2026-11-09T00", "spike:volume:2026-11-09T00"]
    volume = next(r for r in rows if r["kind"] == "spike_alert" and "volume" in r["dedupe_key"])
    assert volume["channel"] == channel
    text = volume["payload"]["text"]
    assert "Lumo mention spike" in text and "Mon 09 Nov 01:00-02:00 (Europe/Rome)" in text
    assert "12 mentions, 6.0x the usual 2 for this hour" in text and "83% negative" in text
    examples = volume["payload"]["blocks"][1]["text"]["text"]
    assert examples.count("> card declined at checkout") == 3
    assert "reach 1,100" in examples  # the largest reach first: followers 1100
    negative = next(r for r in rows if "negative_share" in r["dedupe_key"])
    assert "83% of 12 mentions negative, against 0% over the last 7 days" in negative["payload"]["text"]
    assert "neutral" not in negative["payload"]["blocks"][1]["text"]["text"]


def test_the_same_local_hour_is_found_across_the_dst_change() -> None:
    # 20 posts every day at 09:00 in Rome (07:00 UTC in summer time, 08:00 UTC from 25 Oct), 1 otherwise
    start = at("2026-10-17T00:00:00")
    series = []
    for i in range(10 * 24):
        moment = start + timedelta(hours=i)
        local = moment.astimezone(ZoneInfo("Europe/Rome"))
        series.append(Hour(moment, 20 if local.hour == 9 else 1, 0))
    monday_nine = series.index(next(h for h in series if h.start == at("2026-10-26T08:00:00")))
    assert evaluate(series, monday_nine, RULE, timezone="Europe/Rome") == {}
    # compared by UTC hour instead, the usual 09:00 peak would look like a spike
    assert list(evaluate(series, monday_nine, RULE, timezone="UTC")) == ["volume"]
    assert same_local_hour(series, monday_nine, 2, ZoneInfo("Europe/Rome")) == monday_nine - 49


def test_alert_examples_are_escaped_for_slack() -> None:
    hour = at("2026-11-18T10:00")
    spike = Spike("volume", hour, hour, 40.0, 5.0, 6.2, 40, 12)
    example = {
        "text": "<!channel> look <https://evil.example|here> & there",
        "handle": "mallory<!here>",
        "platform": "x",
        "url": "https://x.com/m/status/1?a=1|b",
        "reach": 10,
    }
    examples_block = alert_payload(spike, [example], timezone="UTC")["blocks"][1]["text"]["text"]
    assert "<!channel>" not in examples_block and "<!here>" not in examples_block
    assert "&lt;!channel&gt; look &lt;https://evil.example|here&gt; &amp; there" in examples_block
    assert "<https://x.com/m/status/1?a=1%7Cb|x>" in examples_block
