"""Scheduled digests and the hourly spike check, for the scheduler to run.

`schedule_digests(scheduler, config, store)` adds one APScheduler cron job per
enabled `[digest.schedules.NAME]` table (in brand.timezone, so "09:00" stays 09:00
across DST changes) and the hourly spike check. Each digest run is recorded in the
store under `digest:<name>:<period start>` before posting, so a restarted scheduler
that fires the same run again does not post it twice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient

from watcher.config import Config, DigestScheduleConfig
from watcher.digest import Digest, collect_digest, period_window, sla_targets
from watcher.digest_slack import DigestPostError, post_digest, slack_client
from watcher.post import utc_now
from watcher.spikes import SpikeRule, check_spikes
from watcher.store import Store

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
        brand_terms=(config.brand.name, *config.brand.aliases, *config.brand.handles),
        top_posts=config.digest.top_posts,
        theme_sample=config.digest.theme_sample,
    )


def draw_charts(digest: Digest, *, where: str) -> Mapping[str, bytes]:
    """The digest's charts, or none (logged, naming `where`) when they cannot be drawn: a
    broken matplotlib or font cache costs the charts, not the digest. matplotlib takes
    0.6 s to import, so only a digest that draws charts pays for it."""
    try:
        from watcher.digest_charts import render_charts

        return render_charts(digest)
    except Exception as exc:
        log.error("%s: the charts could not be drawn (%s); the digest goes without them", where, exc)
        return {}


def run_scheduled_digest(
    store: Store,
    config: Config,
    schedule: DigestScheduleConfig,
    client_factory: ClientFactory,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> str | None:
    """Post the last complete day or week to the schedule's channel; the Slack ts,
    or None when this run was already posted or posting failed (logged)."""
    now = clock()
    digest = build_digest(store, config, period=schedule.period, now=now)
    key = f"digest:{schedule.name}:{digest.window.since.isoformat()}"
    if not store.claim_digest_run(key, now=now):
        log.info("digest %s for %s was already posted", schedule.name, digest.window.label())
        return None
    charts = draw_charts(digest, where=f"digest.schedules.{schedule.name}")
    try:
        ts = post_digest(client_factory(), schedule.channel, digest, charts)
    except DigestPostError as exc:
        store.finish_digest_run(key, ref=None)
        log.error("digest.schedules.%s: %s", schedule.name, exc)
        return None
    store.finish_digest_run(key, ref=ts)
    log.info("digest %s for %s posted to %s", schedule.name, digest.window.label(), schedule.channel)
    return ts


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
    for schedule in schedules:
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
