"""Scheduled digests are posted exactly once per period: across a restart past the fire
time, a Slack outage, a crash, a chart upload failure and a late firing (the real
slack-sdk against the fake Slack Web API)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from tests.conftest import Clock
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, running_fake_slack
from tests.watcher.digest.fixture import at, build
from tests.watcher.digest.test_jobs import make_config
from watcher.config import Config, DigestScheduleConfig
from watcher.digest.jobs import build_digest, due_fire_times, retry_delay, run_scheduled_digest, schedule_digests
from watcher.digest.slack import post_digest
from watcher.store import Store

pytestmark = pytest.mark.slow  # a real scheduler and the fake Slack in most tests

SUNDAY_KEY = "digest:care_daily:day:2026-10-25"  # Sun 25 Oct in Rome
MONDAY_0900 = at("2026-10-26T08:00:00")  # the daily schedule's fire time (09:00 Rome)


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
    run = service.store.reports.digest_run(SUNDAY_KEY)
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
        run = service.store.reports.digest_run(SUNDAY_KEY)
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
    assert service.store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1  # killed after this
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=5))
    assert service.slack.all_messages() == []  # the claim may still be posting
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert len(service.heads()) == 1 and "Sun 25 Oct 2026" in service.heads()[0]
    assert service.store.reports.digest_run(SUNDAY_KEY)["attempts"] == 2  # type: ignore[index]


def test_a_crash_after_posting_is_found_in_the_channel_not_posted_again(service: Service) -> None:
    store, client = service.store, WebClient(token=BOT_TOKEN, base_url=service.slack.base_url)
    digest = build_digest(store, service.config, period="day", now=MONDAY_0900, since=at("2026-10-24T22:00:00"))
    assert store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1
    ts = post_digest(client, "C0CARE01", digest, {}, run_key=SUNDAY_KEY)  # posted, killed before recording it
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert len(service.slack.all_messages()) == 1
    run = store.reports.digest_run(SUNDAY_KEY)
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
    assert service.store.reports.digest_run(SUNDAY_KEY)["state"] == "posted"  # type: ignore[index]


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


# --- a claim per attempt, keys per period, schedules switched off, the channel look ----------


def test_a_slow_attempt_taken_over_after_the_lease_posts_nothing(service: Service) -> None:
    """Attempt 1 stalls past the claim lease before posting (a stuck request, a paused VM);
    the catch-up takes the run over and posts it; attempt 1 then neither posts nor
    overwrites the record."""
    schedule = service.config.digest.schedules[0]
    gate, entered = threading.Event(), threading.Event()

    def slow_client() -> WebClient:
        entered.set()
        gate.wait(10)
        return WebClient(token=BOT_TOKEN, base_url=service.slack.base_url)

    results: list[str | None] = []
    first = threading.Thread(
        target=lambda: results.append(
            run_scheduled_digest(service.store, service.config, schedule, slow_client, clock=lambda: MONDAY_0900)
        )
    )
    first.start()
    assert entered.wait(10)
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    gate.set()
    first.join(10)
    daily = service.slack.channel_messages("C0CARE01")
    assert len(daily) == 1 and results == [None]
    run = service.store.reports.digest_run(SUNDAY_KEY)
    assert run is not None and run["state"] == "posted" and run["attempts"] == 2 and run["ref"] == daily[0]["ts"]


def test_an_attempt_taken_over_does_not_record_its_failure(service: Service) -> None:
    store = service.store
    assert store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1
    later = MONDAY_0900 + timedelta(minutes=11)
    assert store.reports.claim_digest_run(SUNDAY_KEY, now=later, stale_before=later - timedelta(minutes=10)) == 2
    assert not store.reports.renew_digest_claim(SUNDAY_KEY, attempt=1, now=MONDAY_0900)
    assert not store.reports.finish_digest_run(SUNDAY_KEY, attempt=1, ref=None, error="late 503")
    assert store.reports.finish_digest_run(SUNDAY_KEY, attempt=2, ref="17.000002")
    assert not store.reports.finish_digest_run(SUNDAY_KEY, attempt=1, ref="17.000001")
    run = store.reports.digest_run(SUNDAY_KEY)
    assert run is not None and run["state"] == "posted" and run["ref"] == "17.000002" and run["last_error"] is None


def test_a_time_zone_change_does_not_post_the_periods_again(tmp_path: Path) -> None:
    with running_service(tmp_path, started=at("2026-10-25T12:00:00")) as service:
        service.fire("digest:care_daily", at("2026-10-26T08:00:00"))  # Mon 09:00 Rome: Sun 25
        service.fire("digest:care_daily", at("2026-10-27T08:00:00"))  # Tue 09:00 Rome: Mon 26
        # the brand moves to London on Tuesday at 10:00 Rome and restarts
        service.config = replace(service.config, brand=replace(service.config.brand, timezone="Europe/London"))
        service.clock.now = at("2026-10-27T09:05:00")
        service.start()
        service.fire("digest:catch-up", service.clock.now)
        heads = [m["text"].splitlines()[0] for m in service.slack.channel_messages("C0CARE01")]
        assert len(heads) == 2 and "Sun 25 Oct 2026" in heads[0] and "Mon 26 Oct 2026" in heads[1]
        service.fire("digest:care_daily", at("2026-10-28T09:00:00"))  # Wed 09:00 London: Tue 27
        assert len(service.slack.channel_messages("C0CARE01")) == 3


def test_a_schedule_switched_from_daily_to_weekly_posts_its_week(tmp_path: Path) -> None:
    daily = {"schedules": {"main": {"channel": "C0CARE01", "at": "09:00"}}}
    with running_service(tmp_path, started=at("2026-10-26T12:00:00"), digest=daily) as service:
        service.fire("digest:main", at("2026-10-27T08:00:00"))  # Tue: Mon 26 Oct's daily digest
        weekly = {"schedules": {"main": {"channel": "C0CARE01", "at": "09:00", "period": "week", "weekday": "mon"}}}
        service.config = make_config(tmp_path, slack={"api_base_url": service.slack.base_url}, digest=weekly)
        service.clock.now = at("2026-10-28T12:00:00")
        service.start()
        service.fire("digest:main", at("2026-11-02T08:00:00"))  # Mon 2 Nov 09:00: the week of Mon 26 Oct
        service.fire("digest:catch-up", at("2026-11-02T08:05:00"))
        heads = service.heads()
    assert len(heads) == 2 and "Mon 26 Oct 2026" in heads[0] and "week of Mon 26 Oct 2026" in heads[1]


def test_a_schedule_switched_on_again_does_not_post_the_periods_it_was_off(tmp_path: Path) -> None:
    on = {"schedules": {"main": {"channel": "C0CARE01", "at": "09:00"}}}
    off = {"schedules": {"main": {"channel": "C0CARE01", "at": "09:00", "enabled": False}}}
    with running_service(tmp_path, started=at("2026-10-20T12:00:00"), digest=on) as service:
        service.fire("digest:main", at("2026-10-22T07:00:00"))  # Tue 20 (caught up) and Wed 21
        assert len(service.heads()) == 2
        service.config = make_config(tmp_path, slack={"api_base_url": service.slack.base_url}, digest=off)
        service.clock.now = at("2026-10-22T12:00:00")
        service.start()  # switched off
        service.config = make_config(tmp_path, slack={"api_base_url": service.slack.base_url}, digest=on)
        service.clock.now = at("2026-10-27T11:00:00")
        service.start()  # switched on again on Tuesday at noon
        service.fire("digest:catch-up", service.clock.now)
        assert len(service.heads()) == 2  # not Sun 25 and Mon 26, due while it was off
        service.fire("digest:main", at("2026-10-28T08:00:00"))
        heads = service.heads()
    assert len(heads) == 3 and "Tue 27 Oct 2026" in heads[2]


def slack_history(slack: FakeSlack) -> None:
    """conversations.history as Slack serves it: newest first, from `oldest` on, `limit`
    a page with a next_cursor while more remain (the shared fake answers one page)."""

    def history(params: dict[str, Any]) -> dict[str, Any]:
        oldest = float(params.get("oldest") or 0)
        newest_first = reversed(slack.messages.get(params.get("channel", ""), []))
        top = [m for m in newest_first if "thread_ts" not in m and float(m["ts"]) >= oldest]
        start, limit = int(params.get("cursor") or 0), int(params.get("limit", 100))
        page = slack._listing(top[start : start + limit], params)
        page["response_metadata"] = {"next_cursor": str(start + limit) if start + limit < len(top) else ""}
        return page

    slack.m_conversations_history = history  # type: ignore[method-assign]


def slack_ts(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def test_a_copy_stamped_by_a_slack_clock_minutes_behind_is_found(service: Service) -> None:
    slack_history(service.slack)
    store, client = service.store, WebClient(token=BOT_TOKEN, base_url=service.slack.base_url)
    digest = build_digest(store, service.config, period="day", now=MONDAY_0900, since=at("2026-10-24T22:00:00"))
    assert store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1  # our clock is 5 minutes ahead of Slack's
    post_digest(client, "C0CARE01", digest, {}, run_key=SUNDAY_KEY)  # posted, killed before recording it
    service.slack.messages["C0CARE01"][0]["ts"] = slack_ts(MONDAY_0900 - timedelta(minutes=5))
    service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert len(service.slack.channel_messages("C0CARE01")) == 1
    assert store.reports.digest_run(SUNDAY_KEY)["ref"] == slack_ts(MONDAY_0900 - timedelta(minutes=5))  # type: ignore[index]


def test_a_channel_too_busy_to_search_is_retried_not_posted_again(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    slack_history(service.slack)
    store, client = service.store, WebClient(token=BOT_TOKEN, base_url=service.slack.base_url)
    digest = build_digest(store, service.config, period="day", now=MONDAY_0900, since=at("2026-10-24T22:00:00"))
    assert store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1
    post_digest(client, "C0CARE01", digest, {}, run_key=SUNDAY_KEY)
    copy = service.slack.messages["C0CARE01"][0]
    copy["ts"] = slack_ts(MONDAY_0900)
    chatter = [
        {"type": "message", "ts": slack_ts(MONDAY_0900 + timedelta(seconds=n / 10)), "text": f"hi {n}", "user": "U1"}
        for n in range(1, 2101)
    ]
    service.slack.messages["C0CARE01"] = [copy, *chatter]  # 2,100 messages came after it
    with caplog.at_level(logging.ERROR):
        service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert service.slack.channel_messages("C0CARE01")[0] is copy
    assert len(service.slack.channel_messages("C0CARE01")) == 2101  # not posted again
    run = store.reports.digest_run(SUNDAY_KEY)
    assert run is not None and run["state"] == "failed" and "more than 2000 messages" in run["last_error"]
    assert "it is tried again later" in caplog.text


def test_a_channel_name_is_looked_up_once(tmp_path: Path) -> None:
    digest = {"schedules": {"care_daily": {"channel": "#care", "at": "09:00"}}}
    with running_service(tmp_path, started=at("2026-10-25T12:00:00"), digest=digest) as service:
        for day in (MONDAY_0900, MONDAY_0900 + timedelta(days=1)):  # a 500 after Slack stored it, twice
            service.slack.fail("chat.postMessage", 500, after_effect=True)
            service.fire("digest:care_daily", day)
            service.fire("digest:catch-up", day + timedelta(minutes=5))
        assert len(service.slack.all_messages()) == 2
        assert len(service.slack.calls_to("conversations.list")) == 1  # #care is on the first page: once


def test_a_missing_history_scope_names_every_scope_needed(service: Service, caplog: pytest.LogCaptureFixture) -> None:
    service.slack.fail("conversations.history", 200, body='{"ok": false, "error": "missing_scope"}')
    assert service.store.reports.claim_digest_run(SUNDAY_KEY, now=MONDAY_0900) == 1
    with caplog.at_level(logging.ERROR):
        service.fire("digest:catch-up", MONDAY_0900 + timedelta(minutes=11))
    assert service.slack.all_messages() == []
    assert (
        "Slack refused reading channel C0CARE01 for a digest an earlier attempt may have posted: missing_scope; add "
        "the chat:write, files:write, channels:history, groups:history, channels:read and groups:read scopes"
    ) in caplog.text


@pytest.mark.parametrize(
    ("timezone", "at_time", "period"),
    [("Europe/Berlin", "02:30", "day"), ("America/New_York", "01:15", "day"), ("Europe/London", "01:30", "week")],
)
def test_the_night_clocks_go_back_gives_each_fire_time_once(timezone: str, at_time: str, period: str) -> None:
    """A time in the hour that repeats: stepping a second on in local time dropped the
    second 02:30's fold and landed an hour earlier, so the list of fire times grew for ever."""
    schedule = DigestScheduleConfig(name="d", period=period, at=at_time, channel="#c", weekday="sun")
    zone = ZoneInfo(timezone)
    back_day = {"Europe/Berlin": "2026-10-25", "America/New_York": "2026-11-01", "Europe/London": "2026-10-25"}
    night = datetime.fromisoformat(back_day[timezone]).replace(hour=12, tzinfo=zone)
    after = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)  # after both the EU (25 Oct) and US (1 Nov) changes

    def hung(*_: object) -> None:
        raise TimeoutError("due_fire_times did not return")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # the old code never returned: fail instead of hanging the suite
    try:
        times, around = due_fire_times(schedule, timezone, now=after), due_fire_times(schedule, timezone, now=night)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    expected = 2 if period == "day" else 1
    assert len(times) == expected and times == sorted(times)
    assert all(t.astimezone(zone).strftime("%H:%M") == at_time for t in times)
    assert len(around) == len({t.date() for t in around}) == expected  # the repeated hour counts once
