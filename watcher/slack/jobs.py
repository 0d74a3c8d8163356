"""The scheduler's Slack tick: wake snoozed items, close items the brand answered
natively, queue SLA reminders, then flush the outbox (cards, updates, reminders)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import Connector, reply_scope
from watcher.config import Config
from watcher.core.post import Post
from watcher.core.vocab import OPEN_STATES
from watcher.slack.incident_actions import answer_late_joiners
from watcher.slack.outbox import card_key, enqueue_card_update, flush_slack
from watcher.slack.runtime import SlackRuntime
from watcher.slack.sla import UNCLAIMED_STATES, BusinessHours, sla_state
from watcher.store import Store

log = logging.getLogger(__name__)

NATIVE_CHECKS_PER_RUN = 20
NATIVE_CHECK_JOB = "native_reply_check"


@dataclass(frozen=True)
class JobsReport:
    woken: int
    reminded: int
    answered_elsewhere: int
    sent: int
    retrying: int
    failed: int

    def __str__(self) -> str:
        return (
            f"{self.sent} message(s) sent, {self.retrying} waiting to be retried, {self.failed} failed; "
            f"{self.woken} woken, {self.reminded} reminded, {self.answered_elsewhere} answered natively"
        )


def run_slack_jobs(runtime: SlackRuntime) -> JobsReport:
    """One Slack tick (one at a time per process: see `SlackRuntime.flush_lock`)."""
    with runtime.flush_lock:
        return _run_slack_jobs(runtime)


def _run_slack_jobs(runtime: SlackRuntime) -> JobsReport:
    store, queue, now = runtime.store, runtime.queue, runtime.clock()
    woken = queue.wake_due()
    for item_id in woken:
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now)
    answered = 0
    minutes = runtime.config.slack.native_reply_check_minutes
    # the interval holds across restarts: a crash loop must not spend the platform's read budget
    if minutes and store.slack.claim_job_run(NATIVE_CHECK_JOB, now=now, every=timedelta(minutes=minutes)):
        answered = check_native_replies(runtime)
    answer_late_joiners(runtime)  # before the flush: their incident cards' counters go out with it
    sweep = sla_sweep(store, runtime.config, now=now)
    for item_id in sweep.reminded:  # the card turns to "SLA missed"
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now, reason="sla")
    for item_id in store.slack.slack_stale_cards():  # repeats collapsed in, or changes made from the CLI
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now)
    flushed = flush_slack(store, runtime.notifier, clock=runtime.clock)
    return JobsReport(len(woken), len(sweep.reminded), answered, flushed.sent, flushed.retrying, flushed.failed)


@dataclass(frozen=True)
class SweepReport:
    reminded: tuple[int, ...] = ()


def sla_sweep(store: Store, config: Config, *, now: datetime) -> SweepReport:
    """Stamp SLA due times on new items and queue one reminder, in the card's thread,
    for each unclaimed item past its target. Reminders are outbox rows, so a Slack
    outage delays them and a second sweep never duplicates them."""
    slack = config.slack
    hours = BusinessHours.from_config(slack, config.brand.timezone)
    reminded = []
    for item in (row.item for row in store.items.iter_queue_rows(states=UNCLAIMED_STATES)):  # all, page by page
        state = sla_state(item, slack=slack, hours=hours, now=now)
        if item.sla_due_at != state.due_at:  # new, or its priority changed (escalated)
            store.items.set_sla_due(item.id, state.due_at)
        if state.status != "breached":
            continue
        new = store.outbox.enqueue_outbox(
            "reminder",
            f"reminder:{item.id}:{item.priority}",
            {"item_id": item.id, "post_key": item.post_key, "late_minutes": state.minutes},
            now=now,
            channel=item.channel or slack.channel,
            item_id=item.id,
        )
        if new is not None:
            reminded.append(item.id)
    return SweepReport(reminded=tuple(reminded))


def check_native_replies(runtime: SlackRuntime, *, limit: int = NATIVE_CHECKS_PER_RUN) -> int:
    """An open item the brand already answered on the platform itself is closed,
    and its card says so. Each reply scope is asked once for its share of the batch
    (`find_own_replies`): two X sources of one brand account on one app read its
    timeline once a check, not once each, and never two requests per item. Items of a
    disabled source are checked too (their cards are still open in the team's queue).
    What the platform shows is applied by `Queue.platform_reply_seen`, on the item as it is
    then (a send may have started while the platform was asked): an item whose send is
    uncertain (left `sending` by a send that died, its lease run out, or failed after a
    timeout) is replied when the platform has the brand's reply; a dead send with nothing
    there goes back to failed, retryable; an item a send is posting for is left to it."""
    closed = 0
    states = tuple(s for s in OPEN_STATES if s != "approved")
    sending_now = runtime.store.replies.leased_reply_items(now=runtime.clock())
    rows = [
        r
        for r in runtime.store.items.queue_rows(states=states, limit=1000)
        if runtime.store.slack.slack_message(card_key(r.item.id))
        and not (r.item.state == "sending" and r.item.id in sending_now)
    ]
    if runtime.native_offset >= len(rows):
        runtime.native_offset = 0
    batch = rows[runtime.native_offset : runtime.native_offset + limit]  # rotate: every item gets its turn
    runtime.native_offset += limit
    by_scope: dict[Hashable, tuple[Connector, list[tuple[int, Post]]]] = {}
    unreachable: dict[tuple[str, str], list[int]] = {}  # (source, why) -> its items skipped
    for row in batch:
        post = runtime.store.posts.get_post(row.item.post_key)
        if post is None:
            continue
        try:
            connector = runtime.connector_for(post)
        except Exception as exc:  # e.g. its source is gone, or disabled with its credentials unset
            unreachable.setdefault((post.source, str(exc)), []).append(row.item.id)
            continue
        # any connector of a scope answers for all of it: the first one met is asked
        by_scope.setdefault(reply_scope(connector), (connector, []))[1].append((row.item.id, post))
    for (source, why), ids in unreachable.items():
        log.warning(
            "native reply check cannot ask source %s for item(s) %s: %s; they stay open until answered in Slack",
            source,
            ", ".join(map(str, ids)),
            why,
        )
    for connector, items in by_scope.values():
        try:
            found = connector.find_own_replies([post for _, post in items])
        except Exception as exc:
            sources = ", ".join(sorted({post.source for _, post in items}))
            log.info("native reply check skipped for %d item(s) of %s: %s", len(items), sources, exc)
            continue
        for item_id, post in items:
            result = runtime.queue.platform_reply_seen(item_id, found.get(post.key))
            if not result.changed:
                continue
            enqueue_card_update(runtime.store, result.item, now=runtime.clock())
            if result.item.state == "answered_elsewhere":
                closed += 1
            else:  # a send of ours had posted (replied), or died before it could (failed)
                log.warning("item %s had an unconfirmed send: now %s", item_id, result.item.state)
    return closed


def jobs_loop(runtime: SlackRuntime, *, interval: float, stop: threading.Event) -> None:
    """`run_slack_jobs` every `interval` seconds until `stop` is set; a failing tick is
    logged and the next one runs (Slack down must not stop the app)."""
    while not stop.is_set():
        try:
            report = run_slack_jobs(runtime)
            if report.retrying or report.failed:
                log.warning("slack tick: %s", report)
        except Exception:
            log.exception("the Slack tick failed; it runs again in %s s", interval)
        stop.wait(interval)
