"""Scheduled digests: cron in the brand's time zone across DST, posted once per period."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from tests.fakes.slack_api import BOT_TOKEN, running_fake_slack
from tests.watcher.digest.fixture import at, build
from watcher.config import Config, DigestScheduleConfig, parse_config
from watcher.digest.jobs import cron_trigger, register_digest_jobs, run_scheduled_digest, schedule_digests
from watcher.store import Store

TZ = "Europe/Rome"


def make_config(tmp_path: Path, *, slack: dict[str, Any] | None = None, digest: dict[str, Any] | None = None) -> Config:
    data: dict[str, Any] = {
        "brand": {"name": "Lumo", "timezone": TZ},
        "storage": {"path": str(tmp_path / "w.db")},
        "slack": {"enabled": True, "channel": "C0CARE01", "moderators": ["U0LEAD01"], **(slack or {})},
        "digest": digest
        or {
            "schedules": {
                "care_daily": {"channel": "C0CARE01", "at": "09:00"},
                "marketing_weekly": {"channel": "C0MKT01", "period": "week", "weekday": "mon", "at": "09:30"},
                "paused": {"channel": "C0CARE01", "enabled": False},
            }
        },
    }
    return parse_config(data, file=str(tmp_path / "config.toml"))


@pytest.mark.parametrize(
    ("schedule", "after", "fires"),
    [
        # 09:00 in Rome is 07:00 UTC in summer time and 08:00 UTC from Sunday 25 October
        (DigestScheduleConfig("d", "#c"), "2026-10-23T12:00:00", "2026-10-24T07:00:00"),
        (DigestScheduleConfig("d", "#c"), "2026-10-24T12:00:00", "2026-10-25T08:00:00"),
        (DigestScheduleConfig("d", "#c"), "2026-03-28T12:00:00", "2026-03-29T07:00:00"),
        (DigestScheduleConfig("w", "#c", period="week", at="09:30"), "2026-10-20T12:00:00", "2026-10-26T08:30:00"),
        (DigestScheduleConfig("w", "#c", period="week", weekday="fri"), "2026-10-20T12:00:00", "2026-10-23T07:00:00"),
    ],
)
def test_cron_fires_at_local_time_across_dst(schedule: DigestScheduleConfig, after: str, fires: str) -> None:
    trigger = cron_trigger(schedule, TZ)
    assert trigger.get_next_fire_time(None, at(after)) == at(fires)


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    sched = BackgroundScheduler(timezone="UTC")
    yield sched


def test_schedule_digests_adds_enabled_schedules_and_the_spike_check(
    tmp_path: Path, scheduler: BackgroundScheduler
) -> None:
    config = make_config(tmp_path)
    with Store(tmp_path / "w.db") as store:
        ids = schedule_digests(scheduler, config, store, env={})
    assert ids == ["digest:care_daily", "digest:marketing_weekly", "digest:catch-up", "digest:spikes"]
    weekly = scheduler.get_job("digest:marketing_weekly")
    assert "day_of_week='mon'" in repr(weekly.trigger) and str(weekly.trigger.timezone) == "Europe/Rome"
    spikes = scheduler.get_job("digest:spikes")
    assert spikes.kwargs["channel"] == "C0CARE01" and spikes.kwargs["rule"].min_posts == 20


def test_registrar_for_the_service_scheduler(tmp_path: Path, scheduler: BackgroundScheduler) -> None:
    @dataclass
    class FakeService:  # the attributes watcher.service.Service has
        config: Config
        store: Store
        clock: Callable[[], datetime]

    with Store(tmp_path / "w.db") as store:
        register_digest_jobs(scheduler, FakeService(make_config(tmp_path), store, lambda: at("2026-10-26T08:00:00")))
    assert {job.id for job in scheduler.get_jobs()} == {
        "digest:care_daily",
        "digest:marketing_weekly",
        "digest:catch-up",
        "digest:spikes",
    }


def test_without_slack_only_the_spike_check_runs(
    tmp_path: Path, scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, slack={"enabled": False})
    with caplog.at_level(logging.WARNING), Store(tmp_path / "w.db") as store:
        assert schedule_digests(scheduler, config, store, env={}) == ["digest:spikes"]
    assert "digest.schedules are set but slack.enabled is false" in caplog.text
    quiet = make_config(tmp_path, digest={"spike_alerts": False})
    with Store(tmp_path / "w.db") as store:
        assert schedule_digests(BackgroundScheduler(timezone="UTC"), quiet, store, env={}) == []


@pytest.mark.slow
def test_a_scheduled_run_posts_yesterday_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    monday = at("2026-10-26T08:00:00")
    with running_fake_slack(channels={"care": "C0CARE01"}) as slack, Store(tmp_path / "w.db") as store:
        build(store)
        config = make_config(tmp_path, slack={"api_base_url": slack.base_url})
        schedule = config.digest.schedules[0]

        def client() -> WebClient:
            return WebClient(token=BOT_TOKEN, base_url=slack.base_url)

        def clock() -> datetime:
            return monday

        ts = run_scheduled_digest(store, config, schedule, client, clock=clock)
        assert ts is not None
        assert run_scheduled_digest(store, config, schedule, client, clock=clock) is None  # a second firing
        assert len(slack.all_messages()) == 1 and len(slack.shared) == 3
        assert "Sun 25 Oct 2026" in slack.all_messages()[0]["text"]

        lost = DigestScheduleConfig("lost", "#gone")
        with caplog.at_level(logging.ERROR):
            assert run_scheduled_digest(store, config, lost, client, clock=clock) is None
        assert "digest.schedules.lost: Slack refused the digest for channel #gone: channel_not_found" in caplog.text
        # the failed run is recorded as failed and due again at once, so a later firing can still post it
        run = store.reports.digest_run("digest:lost:day:2026-10-25")
        assert run is not None and run["state"] == "failed"
        assert store.reports.claim_digest_run("digest:lost:day:2026-10-25", now=monday)


def test_a_digest_whose_charts_fail_is_posted_without_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing runs after the run is claimed: a chart failure must not leave it claimed and unposted."""
    import watcher.digest.charts

    def broken(digest: object) -> dict[str, bytes]:
        raise RuntimeError("no font cache")

    monkeypatch.setattr(watcher.digest.charts, "render_charts", broken)
    monday = at("2026-10-26T08:00:00")
    with running_fake_slack(channels={"care": "C0CARE01"}) as slack, Store(tmp_path / "w.db") as store:
        build(store)
        config = make_config(tmp_path, slack={"api_base_url": slack.base_url})
        with caplog.at_level(logging.ERROR):
            ts = run_scheduled_digest(
                store,
                config,
                config.digest.schedules[0],
                lambda: WebClient(token=BOT_TOKEN, base_url=slack.base_url),
                clock=lambda: monday,
            )
        assert ts is not None
        assert len(slack.all_messages()) == 1 and not slack.shared  # the text, no charts
        assert "digest.schedules.care_daily: the charts could not be drawn (no font cache)" in caplog.text
        assert not store.reports.claim_digest_run("digest:care_daily:day:2026-10-25", now=monday)  # posted


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ({"schedules": {"a": {"channel": "#c", "period": "month"}}}, "digest.schedules.a.period: 'month' is not"),
        ({"schedules": {"a": {"channel": "#c", "at": "9am"}}}, "digest.schedules.a.at: '9am' is not a time"),
        ({"schedules": {"a": {"channel": "#c", "weekday": "monday"}}}, "digest.schedules.a.weekday: 'monday'"),
        ({"schedules": {"a": {"at": "09:00"}}}, "digest.schedules.a.channel: missing"),
        ({"schedules": {"a": {"channel": "#c", "hour": 9}}}, "digest.schedules.a.hour: unknown key"),
        ({"schedules": "daily"}, "digest.schedules: must be tables"),
        ({"sla_minutes": {"urgent": 0}}, "digest.sla_minutes.urgent: must be a positive"),
        ({"spike_min_share_rise": 2}, "digest.spike_min_share_rise: must be between 0 and 1"),
        ({"theme_sample": 0}, "digest.theme_sample: must be at least 1"),
        ({"spike_treshold": 3}, "did you mean 'spike_threshold'"),
    ],
)
def test_digest_config_problems_name_the_key(tmp_path: Path, digest: dict[str, Any], problem: str) -> None:
    from watcher.core.config import ConfigError

    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, digest=digest)
    assert problem in str(info.value)


def test_digest_config_defaults_and_overrides(tmp_path: Path) -> None:
    config = make_config(tmp_path, digest={"sla_minutes": {"high": 30}, "spike_channel": "#alerts"})
    assert config.digest.sla_minutes == {"high": 30} and config.digest.schedules == ()
    assert parse_config({"brand": {"name": "x"}}).digest.top_posts == 10


def test_sla_targets_follow_the_slack_sla_unless_the_digest_overrides(tmp_path: Path) -> None:
    from datetime import UTC, timedelta

    from watcher.digest.jobs import build_digest

    config = make_config(
        tmp_path,
        slack={"sla_minutes": {"urgent": 30, "high": 90}},
        digest={"sla_minutes": {"high": 45}},
    )
    with Store(tmp_path / "w.db") as store:
        digest = build_digest(store, config, period="day", now=datetime(2026, 11, 20, 12, tzinfo=UTC))
    targets = digest.responses.sla_targets
    assert targets["urgent"] == timedelta(minutes=30)  # from slack.sla_minutes
    assert targets["high"] == timedelta(minutes=45)  # digest.sla_minutes wins
    assert targets["normal"] == timedelta(minutes=240)  # the default
