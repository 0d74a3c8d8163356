"""Scheduled digests are posted exactly once per period: across a restart past the fire
time, a Slack outage, a crash, a chart upload failure and a late firing (the real
slack-sdk against the fake Slack Web API)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, running_fake_slack
from tests.watcher.digest_fixture import at, build
from tests.watcher.test_digest_jobs import make_config
from watcher.config import Config
from watcher.digest_jobs import build_digest, retry_delay, run_scheduled_digest, schedule_digests
from watcher.digest_slack import post_digest
from watcher.store import Store
from watcher.store.schema import MIGRATIONS, _migration_digest_run_state

SUNDAY_KEY = "digest:care_daily:day:2026-10-25"  # Sun 25 Oct in Rome
LEGACY_SUNDAY_KEY = "digest:care_daily:2026-10-24T22:00:00+00:00"  # as an older watcher keyed it
MONDAY_0900 = at("2026-10-26T08:00:00")  # the daily schedule's fire time (09:00 Rome)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    """A running watcher's digest jobs: the scheduler they were registered on, a movable clock."""

    store: Store
    config: Config
    slack: FakeSlack
    clock: Clock
    scheduler: BackgroundScheduler = field(default_factory=lambda: BackgroundScheduler(timezone="UTC"))

    def start(self) -> None:
        """(Re)register the jobs, as `watcher run` does at start-up."""
        self.scheduler = BackgroundScheduler(timezone="UTC")
        schedule_digests(
            self.scheduler,
            self.config,
            self.store,
            client_factory=lambda: WebClient(token=BOT_TOKEN, base_url=self.slack.base_url),
            clock=self.clock,
        )

    def fire(self, job_id: str, when: datetime) -> Any:
        """Run a job as the scheduler would at `when`."""
        self.clock.now = when
        job = self.scheduler.get_job(job_id)
        assert job is not None, f"no job {job_id}"
        return job.func(*job.args, **job.kwargs)

    def heads(self) -> list[str]:
        return [m["text"].splitlines()[0] for m in self.slack.all_messages()]


@contextmanager
def running_service(tmp_path: Path, *, started: datetime, digest: dict[str, Any] | None = None) -> Iterator[Service]:
    """A watcher first started at `started`, with the fixture's posts and the fake Slack."""
    with (
        running_fake_slack(channels={"care": "C0CARE01", "mkt": "C0MKT01"}) as slack,
        Store(tmp_path / "w.db") as store,
    ):
        build(store)
        config = make_config(tmp_path, slack={"api_base_url": slack.base_url}, digest=digest)
        running = Service(store, config, slack, Clock(started))
        running.start()
        yield running


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with running_service(tmp_path, started=at("2026-10-25T12:00:00")) as running:  # first started Sunday noon
        yield running


def test_a_slack_outage_at_fire_time_is_caught_up_once(service: Service) -> None:
    service.slack.fail("chat.postMessage", 503)
    assert service.fire("digest:care_daily", MONDAY_0900) is None
    assert service.slack.all_messages() == []
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=10))
    assert len(service.heads()) == 1 and "Sun 25 Oct 2026" in service.heads()[0]
    run = service.store.digest_run(SUNDAY_KEY)
    assert run is not None and run["state"] == "posted" and run["ref"] == service.slack.all_messages()[0]["ts"]


@pytest.mark.parametrize("channel", ["C0CARE01", "#care"])  # a name is looked up among the bot's channels
def test_a_digest_slack_stored_before_answering_500_is_not_posted_again(tmp_path: Path, channel: str) -> None:
    digest = {"schedules": {"care_daily": {"channel": channel, "at": "09:00"}}}
    with running_service(tmp_path, started=at("2026-10-25T12:00:00"), digest=digest) as service:
        service.slack.fail("chat.postMessage", 500, after_effect=True)  # stored, then the client sees an error
        assert service.fire("digest:care_daily", MONDAY_0900) is None
        assert len(service.slack.all_messages()) == 1
        service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
        assert len(service.slack.all_messages()) == 1  # found by its metadata, not posted twice
        run = service.store.digest_run(SUNDAY_KEY)
        assert run is not None and run["state"] == "posted" and run["ref"] == service.slack.all_messages()[0]["ts"]


def test_a_restart_past_the_fire_time_posts_the_period_at_start_up(service: Service) -> None:
    service.clock.now = MONDAY_0900 + timedelta(minutes=5)  # a deploy: down at 08:58, back at 09:05
    service.start()
    catch_up = service.scheduler.get_job("digest:catch-up")
    assert catch_up.next_run_time == service.clock.now  # runs as soon as the scheduler starts
    service.fire("digest:catch-up", service.clock.now)
    assert len(service.heads()) == 1 and "Sun 25 Oct 2026" in service.heads()[0]
    service.fire("digest:care_daily", at("2026-10-27T08:00:00"))  # Tuesday's firing posts Monday only
    assert len(service.heads()) == 2 and "Mon 26 Oct 2026" in service.heads()[1]


def test_an_unexpected_error_after_the_claim_is_retried(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> WebClient:
        raise RuntimeError("boom")

    schedule = service.config.digest.schedules[0]
    with caplog.at_level(logging.ERROR):  # logged, not raised
        assert run_scheduled_digest(service.store, service.config, schedule, broken, clock=lambda: MONDAY_0900) is None
    assert "digest.schedules.care_daily: unexpected RuntimeError: boom (digest for Sun 25 Oct 2026" in caplog.text
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
    assert len(service.heads()) == 1 and "Sun 25 Oct 2026" in service.heads()[0]


def test_a_crash_before_posting_is_caught_up_once_the_claim_is_stale(service: Service) -> None:
    """A SIGKILL leaves the claim without a ref: it is left alone while it may still be
    posting, then the channel is searched and, nothing found, the digest is posted."""
    assert service.store.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1  # killed after this
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
    assert service.slack.all_messages() == []  # the claim may still be posting
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert len(service.heads()) == 1 and "Sun 25 Oct 2026" in service.heads()[0]
    assert service.store.digest_run(SUNDAY_KEY)["attempts"] == 2  # type: ignore[index]


def test_a_crash_after_posting_is_found_in_the_channel_not_posted_again(service: Service) -> None:
    store, client = service.store, WebClient(token=BOT_TOKEN, base_url=service.slack.base_url)
    digest = build_digest(store, service.config, period="day", now=MONDAY_0900, since=at("2026-10-24T22:00:00"))
    assert store.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1
    ts = post_digest(client, "C0CARE01", digest, {}, run_key=SUNDAY_KEY)  # posted, killed before recording it
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert len(service.slack.all_messages()) == 1
    run = store.digest_run(SUNDAY_KEY)
    assert run is not None and run["state"] == "posted" and run["ref"] == ts


def test_a_chart_upload_failure_after_the_text_is_posted_keeps_the_run_posted(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    service.slack.fail("files.completeUploadExternal", 500)
    with caplog.at_level(logging.ERROR):
        ts = service.fire("digest:care_daily", MONDAY_0900)
    assert ts is not None and ts == service.slack.all_messages()[0]["ts"]
    assert "the digest for Sun 25 Oct 2026 is posted in C0CARE01" in caplog.text
    assert "Slack refused its charts: fatal_error" in caplog.text
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
    assert len(service.slack.all_messages()) == 1 and not service.slack.shared
    assert service.store.digest_run(SUNDAY_KEY)["state"] == "posted"  # type: ignore[index]


def test_a_late_firing_posts_the_period_it_was_due_for(tmp_path: Path) -> None:
    """at = 23:30 Rome: the 25 Oct firing runs 40 minutes late (00:10 on the 26th, within the
    misfire grace); it posts Sat 24 Oct, and the 26 Oct firing posts Sun 25 Oct."""
    digest = {"schedules": {"late": {"channel": "C0CARE01", "at": "23:30"}}}
    with running_service(tmp_path, started=at("2026-10-25T12:00:00"), digest=digest) as service:
        service.fire("digest:late", at("2026-10-25T23:10:00"))  # 00:10 Rome on the 26th
        service.fire("digest:late", at("2026-10-26T22:30:00"))  # 23:30 Rome on the 26th
        heads = service.heads()
    assert len(heads) == 2 and "Sat 24 Oct 2026" in heads[0] and "Sun 25 Oct 2026" in heads[1]


def test_catch_up_looks_back_two_days_and_one_week(tmp_path: Path) -> None:
    with running_service(tmp_path, started=at("2026-10-01T00:00:00")) as service:
        service.fire("digest:catch-up", at("2026-10-26T08:35:00"))  # 09:35 Rome, after both fire times
        heads = service.heads()
        assert len(heads) == 3, heads  # not Fri 23 Oct or earlier, not the week before
        assert "Sat 24 Oct 2026" in heads[0] and "Sun 25 Oct 2026" in heads[1]
        assert "week of Mon 19 Oct 2026" in heads[2]
        service.fire("digest:catch-up", at("2026-10-26T08:40:00"))
        assert len(service.heads()) == 3


def test_a_new_schedule_does_not_post_the_periods_before_it(tmp_path: Path) -> None:
    with running_service(tmp_path, started=MONDAY_0900 + timedelta(hours=1)) as service:
        service.fire("digest:catch-up", MONDAY_0900 + timedelta(hours=1))
        assert service.slack.all_messages() == []  # its first digest is Tuesday's


def test_a_failing_run_backs_off(service: Service) -> None:
    service.slack.fail("chat.postMessage", 503, times=3)

    def posts() -> int:  # attempts at the daily digest (the weekly one falls due at 09:30)
        return sum(call.params.get("channel") == "C0CARE01" for call in service.slack.calls_to("chat.postMessage"))

    service.fire("digest:care_daily", MONDAY_0900)
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))  # attempt 2: wait 10 minutes
    assert posts() == 2
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=10))
    assert posts() == 2
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=15))  # attempt 3 fails: wait 20
    assert posts() == 3
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=30))
    assert posts() == 3
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=35))
    assert posts() == 4 and len(service.slack.channel_messages("C0CARE01")) == 1
    assert [retry_delay(n).total_seconds() / 60 for n in range(1, 7)] == [0, 10, 20, 40, 60, 60]


def test_the_migration_keeps_posted_runs_and_schedules_seen(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    before = MIGRATIONS.index(_migration_digest_run_state)
    for migration in MIGRATIONS[:before]:
        migration(db)
    db.execute(f"PRAGMA user_version = {before}")
    db.execute("INSERT INTO digest_runs VALUES (?, ?, ?)", [SUNDAY_KEY, "2026-10-26T08:00:00+00:00", "17.000001"])
    db.execute("INSERT INTO digest_runs VALUES (?, ?, NULL)", ["digest:care_daily:x", "2026-10-20T08:00:00+00:00"])
    db.conn.commit()
    db.conn.close()
    with Store(path) as store:
        assert store.digest_run(SUNDAY_KEY)["state"] == "posted"  # type: ignore[index]
        assert store.digest_run("digest:care_daily:x")["state"] == "claimed"  # type: ignore[index]
        assert store.claim_digest_run("digest:care_daily:x", now=MONDAY_0900, stale_before=MONDAY_0900) == 2
        assert store.digest_schedule_since("care_daily", now=MONDAY_0900) == at("2026-10-20T08:00:00")
