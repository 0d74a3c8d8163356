"""Spike alerts: the statistics by hand, once per spike, example posts in the alert."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.watcher.digest.fixture import add, at, post
from watcher.digest.spikes import (
    HOUR,
    Hour,
    Spike,
    SpikeRule,
    alert_payload,
    check_spikes,
    continues,
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
    rows = store.outbox.due_outbox(now=burst + timedelta(hours=3))
    assert sorted(r.dedupe_key for r in rows) == ["spike:negative_share:2026-11-09T00", "spike:volume:2026-11-09T00"]
    volume = next(r for r in rows if r.kind == "spike_alert" and "volume" in r.dedupe_key)
    assert volume.channel == channel
    text = volume.payload["text"]
    assert "Lumo mention spike" in text and "Mon 09 Nov 01:00-02:00 (Europe/Rome)" in text
    assert "12 mentions, 6.0x the usual 2 for this hour" in text and "83% negative" in text
    examples = volume.payload["blocks"][1]["text"]["text"]
    assert examples.count("> card declined at checkout") == 3
    assert "reach 1,100" in examples  # the largest reach first: followers 1100
    negative = next(r for r in rows if "negative_share" in r.dedupe_key)
    assert "83% of 12 mentions negative, against 0% over the last 7 days" in negative.payload["text"]
    assert "neutral" not in negative.payload["blocks"][1]["text"]["text"]


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


# --- one alert per spike, however long it lasts and however late its posts arrive ---

QUIET = (20, 1)  # posts, negative posts in an ordinary hour
OUTAGE = (20, 15)


def fill(store: Store, first: datetime, counts: list[tuple[int, int]], *, tag: str) -> None:
    """`counts[i]` posts (negative ones first) spread over the hour starting first + i hours."""
    with store.transaction():
        for h, (posts, negative) in enumerate(counts):
            for i in range(posts):
                when = (first + timedelta(hours=h, minutes=i * 60 // posts)).isoformat()[:19]
                add(store, post(f"{tag}-{h}-{i}", when, f"post {i}"), "negative" if i < negative else "neutral")


def check_after(store: Store, hour: datetime) -> list[Spike]:
    """The hourly check that runs at minute 2 after `hour` is complete."""
    now = hour + timedelta(hours=1, minutes=2)
    return check_spikes(store, rule=RULE, channel="C0ALERTS", timezone="UTC", clock=lambda: now)


def alert_keys(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT dedupe_key FROM outbox WHERE kind = 'spike_alert' ORDER BY id")]


def test_a_spike_lasting_40_hours_is_alerted_once_across_a_restart(tmp_path: Path) -> None:
    # each check loads a week and 29 hours; the search for a spike's first hour used to stop
    # there, so from about the 27th hour its key changed every hour (12 alerts for 40 hours)
    outage = START + timedelta(days=8)
    db = Store(tmp_path / "long.db")
    fill(db, START, [QUIET] * (8 * 24) + [OUTAGE] * 40, tag="p")
    for h in range(40):
        if h == 20:  # the service restarts in the middle of the outage
            db.close()
            db = Store(tmp_path / "long.db")
        seen = check_after(db, outage + timedelta(hours=h))
        assert [(s.statistic, s.hour) for s in seen][-1] == ("negative_share", outage + timedelta(hours=h))
    assert alert_keys(db) == ["spike:negative_share:2026-11-09T00"]
    assert db.spikes.last_spike("negative_share") == (outage, outage + timedelta(hours=39))
    db.close()


def test_late_posts_that_move_a_spikes_first_hour_do_not_alert_it_again(store: Store) -> None:
    # hour a had 4 posts stored when b was checked (a poll interval, a 429 back-off), too few
    # to count; its other 16 arrive later and a starts spiking too: the same outage
    a = START + timedelta(days=8)
    b, c = a + HOUR, a + 2 * HOUR
    fill(store, START, [QUIET] * (8 * 24), tag="q")
    fill(store, a, [(4, 3), OUTAGE], tag="early")
    assert {s.started for s in check_after(store, b)} == {b}
    fill(store, a + timedelta(minutes=3), [(16, 12)], tag="late")
    fill(store, c, [OUTAGE], tag="c")
    assert {s.started for s in check_after(store, c)} == {a}
    assert alert_keys(store) == ["spike:negative_share:2026-11-09T01"]
    assert store.spikes.last_spike("negative_share") == (a, c)


def test_a_spike_after_two_calm_hours_is_a_new_alert(store: Store) -> None:
    s = START + timedelta(days=8)
    # spike, one calm hour, spike (the same outage); two calm hours, spike (a new one)
    pattern = [OUTAGE, QUIET, OUTAGE, QUIET, QUIET, OUTAGE, QUIET]
    fill(store, START, [QUIET] * (8 * 24) + pattern, tag="p")
    for h in range(len(pattern)):
        check_after(store, s + timedelta(hours=h))
    assert alert_keys(store) == ["spike:negative_share:2026-11-09T00", "spike:negative_share:2026-11-09T05"]
    assert store.spikes.last_spike("negative_share") == (s + 5 * HOUR, s + 5 * HOUR)


def test_continues_allows_fewer_than_two_calm_hours_between() -> None:
    known = (START + 10 * HOUR, START + 12 * HOUR)
    assert continues(known, START + 11 * HOUR, START + 13 * HOUR)  # overlaps
    assert continues(known, START + 13 * HOUR, START + 13 * HOUR)  # touches
    assert continues(known, START + 14 * HOUR, START + 14 * HOUR)  # one calm hour (13)
    assert not continues(known, START + 15 * HOUR, START + 15 * HOUR)  # two calm hours
    assert continues(known, START + 8 * HOUR, START + 8 * HOUR)  # late posts: one calm hour before
    assert not continues(known, START + 7 * HOUR, START + 7 * HOUR)


def test_the_alert_and_the_spike_state_commit_together(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # a crash after the outbox row is written but before the state is: neither is kept,
    # so the next check alerts the spike, once
    s = START + timedelta(days=8)
    fill(store, START, [QUIET] * (8 * 24) + [OUTAGE, OUTAGE], tag="p")

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(store.spikes, "record_spike", crash)
        with pytest.raises(RuntimeError):
            check_after(store, s)
    assert alert_keys(store) == [] and store.spikes.last_spike("negative_share") is None
    check_after(store, s)
    check_after(store, s + HOUR)
    assert alert_keys(store) == ["spike:negative_share:2026-11-09T00"]
