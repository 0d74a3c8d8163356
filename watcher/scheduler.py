"""APScheduler wiring only: one job per source, the outbox flush, snooze wake-ups,
payload pruning, and whatever extra jobs other parts register. Work itself lives in Service."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.queue.machine import Queue
from watcher.service import Service

log = logging.getLogger(__name__)

RAW_PRUNE_HOURS = 6  # a day's payloads age out in a few small runs, not one long one
OUTBOX_PAYLOAD_KEPT = timedelta(days=1)  # a sent notification's payload, for a look the day after
JobRegistrar = Callable[[BackgroundScheduler, Any], None]  # (scheduler, service)


class _SkippedRunFilter(logging.Filter):
    """A job still running at its next tick is skipped (max_instances=1): expected while a
    long outbox drains, so it is logged at DEBUG, not as a WARNING every tick."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in str(record.msg):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_SKIPPED_RUNS = _SkippedRunFilter()


def build_scheduler(
    service: Service,
    *,
    extra_jobs: list[JobRegistrar] | None = None,
    start_in: float = 0.0,
    deliver: Callable[[], Any] | None = None,
) -> BackgroundScheduler:
    """A scheduler with a job per enabled source (own interval and jitter, coalesced,
    never two runs of one source at once) plus housekeeping jobs. `deliver` replaces
    the plain outbox flush (the Slack tick also wakes snoozes and sends reminders)."""
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_RUNS)  # adding the same filter again is a no-op
    workers = max(2, len(service.pollers) + 2)
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(workers)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        timezone=service.config.timezone,
    )
    first_run = service.clock() + timedelta(seconds=start_in)
    for name in service.pollers:
        source = service.config.source(name)
        scheduler.add_job(
            _guarded(service.poll, f"poll {name}"),
            IntervalTrigger(seconds=source.interval_seconds, jitter=source.jitter_seconds or None),
            args=[name],
            id=f"poll:{name}",
            name=f"poll {name}",
            next_run_time=first_run,
        )
    scheduler.add_job(
        _guarded(deliver or service.flush, "outbox delivery"),
        IntervalTrigger(seconds=service.config.scheduler.outbox_interval_seconds),
        id="outbox",
        name="outbox flush",
        next_run_time=first_run,
    )
    scheduler.add_job(
        _guarded(prune_payloads, "payload pruning"),
        IntervalTrigger(hours=RAW_PRUNE_HOURS),
        args=[service],
        id="prune",
        name="payload pruning",
        next_run_time=first_run,
    )
    if deliver is None:  # the Slack tick wakes snoozed items itself, and updates their cards
        queue = Queue(service.store, clock=service.clock)
        scheduler.add_job(_guarded(queue.wake_due, "snooze wake-up"), IntervalTrigger(seconds=60), id="wake")
    for register in extra_jobs or []:
        register(scheduler, service)
    return scheduler


def prune_payloads(service: Service) -> int:
    """Drop the raw payloads older than storage.raw_days (0: keep them), and sent outbox
    rows' payloads a day on; how many went."""
    now, days = service.clock(), service.config.storage.raw_days
    dropped = service.store.outbox.prune_payloads(now - OUTBOX_PAYLOAD_KEPT)
    if days > 0:
        raw = service.store.posts.prune_raw(now - timedelta(days=days))
        if raw:
            log.info("dropped %d raw payloads older than %d days (storage.raw_days)", raw, days)
        dropped += raw
    return dropped


def _guarded(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """A job that fails logs and waits for its next turn; it never kills the scheduler."""

    def run(*args: Any) -> Any:
        try:
            return func(*args)
        except Exception:  # the last line of defence for a long-running service
            log.exception("%s failed; it will run again at its next interval", what)
            return None

    run.__name__ = getattr(func, "__name__", what)
    return run


def run_forever(
    service: Service,
    *,
    extra_jobs: list[JobRegistrar] | None = None,
    until: Callable[[], bool] | None = None,
    on_started: Callable[[BackgroundScheduler], None] | None = None,
    deliver: Callable[[], Any] | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `until()` is true): then stop taking new jobs,
    let the batch in flight finish and commit, flush the outbox and close the store."""
    scheduler = build_scheduler(service, extra_jobs=extra_jobs, deliver=deliver)
    signalled: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        # only a plain append: a signal handler that takes a lock (Event.set, logging) can
        # deadlock against the main thread it interrupted while that thread held the lock
        signalled.append(signum)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    scheduler.start()
    if on_started is not None:
        on_started(scheduler)
    try:
        while not signalled and not (until is not None and until()):
            time.sleep(0.2)
        if signalled:
            log.info("received signal %s; finishing the batch in flight", signalled[0])
    finally:
        service.stopping.set()  # pollers stop paging after the page in hand
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            (deliver or service.flush)()
        finally:
            service.close()
