"""Scheduled digests and the hourly spike check, for the scheduler to run.

`schedule_digests(scheduler, config, store)` adds one APScheduler cron job per
enabled `[digest.schedules.NAME]` table (in brand.timezone, so "09:00" stays 09:00
across DST changes), a catch-up job every few minutes and at start-up, and the hourly
spike check. Each period's run is recorded in the store under
`digest:<name>:<period>:<local start date>` (claimed, posted or failed), so a period is posted once:
a restart past its fire time, a Slack outage or a crash is caught up later, and a
retry first looks in the channel for the message an earlier attempt left.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient

from watcher.config import Config, DigestScheduleConfig
from watcher.core.post import utc_now
from watcher.digest.figures import Digest, collect_digest, sla_targets
from watcher.digest.slack import DigestPostError, digest_title, find_posted_digest, post_digest, slack_client
from watcher.digest.spikes import SpikeRule, check_spikes
from watcher.digest.themes import brand_terms
from watcher.digest.windows import Window, period_window
from watcher.store import Store, from_iso, iso

log = logging.getLogger(__name__)

ClientFactory = Callable[[], WebClient]


def build_digest(
    store: Store,
    config: Config,
    *,
    period: str,
    now: datetime,
    timezone: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Digest:
    """A digest with the config's time zone (unless given), SLA targets and sizes."""
    tz = timezone or config.brand.timezone
    return collect_digest(
        store,
        period_window(period, timezone=tz, now=now, since=since, until=until),
        # the team's SLA (slack.sla_minutes) unless the digest names its own targets
        sla_targets=sla_targets({**config.slack.sla_minutes, **config.digest.sla_minutes}),
        now=now,
        brand=config.brand.name,
        brand_terms=brand_terms(config.brand),
        top_posts=config.digest.top_posts,
        theme_sample=config.digest.theme_sample,
    )


def draw_charts(digest: Digest, *, where: str) -> Mapping[str, bytes]:
    """The digest's charts, or none (logged, naming `where`) when they cannot be drawn: a
    broken matplotlib or font cache costs the charts, not the digest. matplotlib takes
    0.6 s to import, so only a digest that draws charts pays for it."""
    try:
        from watcher.digest.charts import render_charts

        return render_charts(digest)
    except Exception as exc:
        log.error("%s: the charts could not be drawn (%s); the digest goes without them", where, exc)
        return {}


# A missed digest is still posted while its period is one of the schedule's last
# LOOK_BACK periods whose fire time has passed: a daily digest for two days, a weekly one
# until the next week's digest is due.
LOOK_BACK = {"day": 2, "week": 1}
CATCH_UP_MINUTES = 5  # how often missed and failed digests are looked for
# a claim older than this was left by a crash (building and posting take seconds)
CLAIM_LEASE = timedelta(minutes=10)


def retry_delay(attempts: int) -> timedelta:
    """After a failed attempt: the next catch-up tries again (5 minutes later), then 10,
    20 and 40 minutes later, then hourly."""
    if attempts <= 1:
        return timedelta(0)
    return timedelta(minutes=min(60, CATCH_UP_MINUTES * 2 ** (attempts - 1)))


def due_fire_times(schedule: DigestScheduleConfig, timezone: str, *, now: datetime) -> list[datetime]:
    """The schedule's last LOOK_BACK fire times up to `now`, oldest first."""
    trigger = cron_trigger(schedule, timezone)
    count = LOOK_BACK[schedule.period]
    days = 1 if schedule.period == "day" else 7
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now - timedelta(days=(count + 1) * days))
    while fire is not None and fire <= now:
        if not times or fire.replace(fold=0) != times[-1].replace(fold=0):  # the repeated 02:30 is one period
            times.append(fire)
        # a second later in UTC: local arithmetic on the repeated hour when clocks go back
        # (02:30+01:00, fold 1) drops the fold and lands an hour earlier, for ever
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    return times[-count:]


def run_scheduled_digest(
    store: Store,
    config: Config,
    schedule: DigestScheduleConfig,
    client_factory: ClientFactory,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> str | None:
    """Post every due period of the schedule that has no posted digest yet: the periods
    of its last LOOK_BACK fire times that fell due since the schedule was first seen.
    Each period is computed from its fire time, never from the clock, so a late run
    posts the period it was due for. The ts of the newest digest posted now, or None."""
    now = clock()
    first_seen = store.reports.digest_schedule_since(schedule.name, now=now)
    newest = None
    for fire in due_fire_times(schedule, config.brand.timezone, now=now):
        if fire >= first_seen:
            newest = post_period(store, config, schedule, client_factory, fire=fire, now=now, clock=clock) or newest
    return newest


def run_key(schedule: DigestScheduleConfig, window: Window) -> str:
    """The run's key: the schedule, its period and the local date the period starts on, so
    a time zone change finds the periods already posted and a schedule switched from daily
    to weekly under the same name does not take a Monday's daily digest for its week's."""
    return f"digest:{schedule.name}:{schedule.period}:{window.local(window.since).date().isoformat()}"


def post_period(
    store: Store,
    config: Config,
    schedule: DigestScheduleConfig,
    client_factory: ClientFactory,
    *,
    fire: datetime,
    now: datetime,
    clock: Callable[[], datetime] = utc_now,
) -> str | None:
    """Post the digest of the period due at `fire` unless it is posted, being posted, or
    waiting to be retried; the Slack ts, or None. A retry, or a claim a crash left, first
    looks for the message an earlier attempt may have posted (message metadata). An attempt
    whose claim was taken over while it was slow posts nothing and records nothing."""
    where = f"digest.schedules.{schedule.name}"
    window = period_window(schedule.period, timezone=config.brand.timezone, now=fire)
    key = run_key(schedule, window)
    attempt = store.reports.claim_digest_run(key, now=now, stale_before=now - CLAIM_LEASE)
    if not attempt:
        return None
    try:
        digest = build_digest(store, config, period=schedule.period, now=now, since=window.since)
        client = client_factory()
        if attempt > 1 and (run := store.reports.digest_run(key)) is not None:
            found = find_posted_digest(
                client,
                store,
                schedule.channel,
                run_key=key,
                title=digest_title(digest),
                since=from_iso(run["started_at"]),
                now=now,
            )
            if found is not None:
                finish(store, key, attempt, ref=found)
                log.info(
                    "digest %s for %s was already in %s; not posting it again",
                    schedule.name,
                    window.label(),
                    schedule.channel,
                )
                return found
        charts = draw_charts(digest, where=where)  # after the look: a digest found in the channel needs none
        # the claim may have been taken over while this attempt was slow (past CLAIM_LEASE):
        # then the attempt that took it posts, not this one
        if not store.reports.renew_digest_claim(key, attempt=attempt, now=clock()):
            log.warning(
                "%s: attempt %d at the digest for %s took longer than %d minutes and a later attempt took it "
                "over; this one posts nothing",
                where,
                attempt,
                window.label(),
                CLAIM_LEASE.total_seconds() // 60,
            )
            return None
        ts = post_digest(client, schedule.channel, digest, charts, run_key=key)
    except Exception as exc:  # any failure is retried: a period is never skipped for good
        retry_at = now + retry_delay(attempt)
        problem = str(exc) if isinstance(exc, DigestPostError) else f"unexpected {type(exc).__name__}: {exc}"
        finish(store, key, attempt, ref=None, error=problem, retry_at=retry_at)
        log.error(
            "%s: %s (digest for %s, attempt %d; trying again from %s while it is one of the last %d %ss)",
            where,
            problem,
            window.label(),
            attempt,
            iso(retry_at),
            LOOK_BACK[schedule.period],
            schedule.period,
        )
        return None
    finish(store, key, attempt, ref=ts)
    log.info("digest %s for %s posted to %s", schedule.name, window.label(), schedule.channel)
    return ts


def finish(
    store: Store, key: str, attempt: int, *, ref: str | None, error: str = "", retry_at: datetime | None = None
) -> None:
    """Record the attempt's outcome, unless a later attempt has taken the run over (logged)."""
    if not store.reports.finish_digest_run(key, attempt=attempt, ref=ref, error=error, retry_at=retry_at):
        outcome = f"posted as {ref}" if ref is not None else f"failed ({error})"
        log.warning("digest run %s: attempt %d %s after a later attempt took the run over", key, attempt, outcome)


def catch_up_digests(
    store: Store,
    config: Config,
    schedules: Sequence[DigestScheduleConfig],
    client_factory: ClientFactory,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Every few minutes and at start-up: post the digests a restart, an outage or a
    crash kept from going out at their fire time, and retry failed ones."""
    for schedule in schedules:
        try:
            run_scheduled_digest(store, config, schedule, client_factory, clock=clock)
        except Exception:  # a locked database, say: the other schedules still go, this one next time
            log.exception(
                "digest.schedules.%s: catch-up failed; it runs again in %d minutes", schedule.name, CATCH_UP_MINUTES
            )


def spike_rule(config: Config) -> SpikeRule:
    return SpikeRule.from_digest(config.digest)


def cron_trigger(schedule: DigestScheduleConfig, timezone: str) -> CronTrigger:
    hour, minute = (int(part) for part in schedule.at.split(":"))
    day_of_week = schedule.weekday if schedule.period == "week" else "*"
    return CronTrigger(day_of_week=day_of_week, hour=hour, minute=minute, timezone=timezone)


def schedule_digests(
    scheduler: BaseScheduler,
    config: Config,
    store: Store,
    *,
    env: Mapping[str, str] | None = None,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> list[str]:
    """Add the digest cron jobs and the hourly spike check; return the job ids.

    Digests need Slack (slack.enabled and the bot token); without it only the spike
    check is added and its alerts wait in the outbox for whichever notifier runs."""
    environ = os.environ if env is None else env
    factory = client_factory or (lambda: slack_client(config, environ))
    ids = []
    schedules = [s for s in config.digest.schedules if s.enabled]
    if schedules and not config.slack.enabled and client_factory is None:
        log.warning("%s: digest.schedules are set but slack.enabled is false; no digests will be posted", config.file)
        schedules = []
    # a schedule switched off or removed is forgotten: switched on again, it starts afresh
    # instead of posting the periods it was off for
    store.reports.forget_digest_schedules(keep=[s.name for s in schedules])
    for schedule in schedules:
        # the schedule exists from now on: a period due later is caught up if missed
        store.reports.digest_schedule_since(schedule.name, now=clock())
        job = scheduler.add_job(
            run_scheduled_digest,
            cron_trigger(schedule, config.brand.timezone),
            args=[store, config, schedule, factory],
            kwargs={"clock": clock},
            id=f"digest:{schedule.name}",
            name=f"digest {schedule.name} ({schedule.period} at {schedule.at} to {schedule.channel})",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=3600,
        )
        ids.append(job.id)
    if schedules:
        job = scheduler.add_job(
            catch_up_digests,
            IntervalTrigger(minutes=CATCH_UP_MINUTES),
            args=[store, config, schedules, factory],
            kwargs={"clock": clock},
            id="digest:catch-up",
            name=f"missed and failed digests (every {CATCH_UP_MINUTES} minutes)",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            next_run_time=clock(),  # at start-up: a restart past a fire time posts that period now
        )
        ids.append(job.id)
    if config.digest.spike_alerts:
        channel = config.digest.spike_channel or config.digest.channel or config.slack.channel
        job = scheduler.add_job(
            check_spikes,
            CronTrigger(minute=2, timezone="UTC"),
            args=[store],
            kwargs={
                "rule": spike_rule(config),
                "channel": channel,
                "timezone": config.brand.timezone,
                "brand": config.brand.name,
                "clock": clock,
            },
            id="digest:spikes",
            name="hourly spike check",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=1800,
        )
        ids.append(job.id)
    return ids


class HasStore(Protocol):
    """What `register_digest_jobs` needs of the service: its config, store and clock."""

    config: Config
    store: Store
    clock: Callable[[], datetime]


def register_digest_jobs(scheduler: BaseScheduler, service: HasStore) -> None:
    """`schedule_digests` in the shape of the scheduler's extra-job registrars:
    `build_scheduler(service, extra_jobs=[register_digest_jobs])`."""
    ids = schedule_digests(scheduler, service.config, service.store, clock=service.clock)
    log.info("digest jobs: %s", ", ".join(ids) or "none")
