"""Notifiers deliver outbox rows (new queue cards, reminders, digests) to people.

The pipeline writes outbox rows in the same transaction as the posts; `flush_outbox`
delivers them afterwards. A row is marked sent with the notifier's reference (a
Slack message ts, say) so it is never delivered twice; a notifier that cannot
deliver now raises `DeliveryRetry` and the row waits, however long that takes:
only a `DeliveryFailed` (a message that can never be delivered as it is) gives up.
A wait of the whole service (429, 5xx, unreachable, bad token) holds the outbox until
it ends; a wait of one channel (bot not in it) holds that channel's rows, never the others.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from watcher.core.item import OutboxRow
from watcher.core.post import utc_now
from watcher.store import Store

log = logging.getLogger(__name__)

# however long a service asks us to wait, a waiting row is tried again at least this often:
# an outage of hours (or a bot not invited over a weekend) delays messages, never drops them
RETRY_CAP_SECONDS = 900
# longer than any one delivery takes; a process that dies mid-delivery frees its rows sooner:
# its successor sees the lease owner is gone (`free_dead_leases`)
LEASE_SECONDS = 120
# while rows wait, the backlog warning is repeated this often (or sooner when more rows wait)
WARN_EVERY_SECONDS = 900


def process_token() -> str:
    """Names this process as a lease owner: host, pid, and a random part (a restarted
    container's watcher may get the same pid as the one it replaces)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# this process's name as a lease owner, made once when it starts
PROCESS_TOKEN = process_token()


class DeliveryRetry(Exception):
    """Cannot deliver now; try again after `after_seconds`. Without a `channel` the whole
    service must wait (429, 5xx, unreachable, a bad token): `flush_outbox` holds every row
    until then. With one, only that channel refuses (the bot is not in it, or cannot see
    it): its rows wait and rows for other channels go out."""

    def __init__(self, message: str, *, after_seconds: float, channel: str = "") -> None:
        super().__init__(message)
        self.after_seconds = after_seconds
        self.channel = channel


class DeliveryFailed(Exception):
    """Can never be delivered as it is (a kind with no text, an item deleted from the
    store, a message the service rejects as malformed): stop retrying. A channel the bot
    cannot post to is not this: a person can fix it (invite the bot), so its rows wait."""


class Notifier(Protocol):
    """Delivers rows. One that may be asked to wait keeps an `OutboxHold` as `hold`, so the
    wait outlives one flush (`SlackNotifier` does; without one each flush starts afresh)."""

    def deliver(self, row: OutboxRow) -> str:
        """Deliver one outbox row; return a reference stored with it (message id/ts)."""
        ...


@dataclass(frozen=True)
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: bool = False  # the service asked the whole outbox to wait: nothing was tried


@dataclass
class OutboxHold:
    """What one process remembers between flushes (a notifier carries it as `hold`): until
    when the service asked the whole outbox to wait, so a 5 s flush tick sends one probe per
    wait rather than one per tick; and the last backlog warning, so an outage of hours logs
    a line every WARN_EVERY_SECONDS (or when more rows wait), not one per tick."""

    until: datetime | None = None
    warned_at: datetime | None = None
    warned_waiting: int = 0
    # the row whose "wait" set the hold, and its item: after the hold they go last, so a row
    # that fails alone (one payload Slack keeps refusing with a 500) cannot stall the others
    probe: tuple[int, int | None] | None = None
    # this process, as the owner of the rows it leases (every hold in a process shares it)
    owner: str = PROCESS_TOKEN

    def probe_last(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """`rows` in order, with the row that set the last hold and its item's other rows
        (its thread lines follow the card) moved to the end."""
        if self.probe is None:
            return rows
        row_id, item_id = self.probe
        return sorted(rows, key=lambda r: r.id == row_id or (item_id is not None and r.item_id == item_id))

    def held(self, now: datetime) -> bool:
        return self.until is not None and now < self.until

    def warn_now(self, *, waiting: int, now: datetime) -> bool:
        """Whether to log the backlog warning now (and remember that it was)."""
        if (
            self.warned_at is not None
            and (now - self.warned_at).total_seconds() < WARN_EVERY_SECONDS
            and waiting <= self.warned_waiting
        ):
            return False
        self.warned_at, self.warned_waiting = now, waiting
        return True


def flush_outbox(
    store: Store, notifier: Notifier, *, clock: Callable[[], datetime] = utc_now, limit: int = 100
) -> FlushReport:
    """Deliver due rows. Each row is leased first, so two flushes (threads or processes,
    `watcher run` beside `watcher poll`) never deliver the same row; a crash mid-delivery
    frees the lease after LEASE_SECONDS and the row is delivered again.

    A row the service puts off waits (`retry_time`). When the whole service asked to wait,
    the flush stops and the notifier's `hold` keeps later flushes from asking again before
    the wait ends; when one channel refused, that channel's other due rows wait with it and
    the flush goes on with the other channels (rows that cannot go out never block others)."""
    hold: OutboxHold = getattr(notifier, "hold", None) or OutboxHold()
    if hold.held(clock()):
        return FlushReport(held=True)
    free_dead_leases(store, owner=hold.owner, now=clock())
    sent = retrying = failed = 0
    for row in hold.probe_last(store.outbox.due_outbox(now=clock(), limit=limit)):
        now = clock()
        if not store.outbox.lease_outbox(
            row.id, now=now, until=now + timedelta(seconds=LEASE_SECONDS), owner=hold.owner
        ):
            continue  # another flush took it first, or its channel was put off in this flush
        try:
            ref = notifier.deliver(replace(row, leased=True))
        except DeliveryRetry as exc:
            now = clock()
            until = retry_time(exc, now)
            store.outbox.mark_outbox_retry(row.id, next_attempt_at=until, error=str(exc))
            retrying += 1
            if exc.channel:
                store.outbox.defer_outbox_channel(exc.channel, now=now, until=until, error=str(exc))
            else:
                hold.until, hold.probe = until, (row.id, row.item_id)
            backlog = store.outbox.outbox_backlog()
            if hold.warn_now(waiting=backlog["waiting"], now=now):
                log.warning("%s", backlog_warning(backlog, now=now, error=str(exc)))
            if exc.channel:
                continue
            break  # a service that asks us to wait is not asked again until the wait ends
        except DeliveryFailed as exc:
            store.outbox.mark_outbox_failed(row.id, error=str(exc))
            failed += 1
            continue
        store.outbox.mark_outbox_sent(row.id, ref=ref, now=clock())
        sent += 1
    return FlushReport(sent=sent, retrying=retrying, failed=failed)


def owner_gone(owner: str, *, me: str) -> bool:
    """Whether the process `owner` names has certainly stopped: it ran on this host and its
    pid is free, or the pid is ours but the token is not (we replaced it). Another host's
    owner, or a malformed token, counts as alive: its lease runs out on its own."""
    host, _, rest = owner.partition(":")
    pid_text, _, _nonce = rest.partition(":")
    if owner == me or host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but is not ours to signal
        return False
    return False


def free_dead_leases(store: Store, *, owner: str, now: datetime) -> None:
    """Rows leased by a process that died mid-delivery (a kill -9, a crash) are due again
    now rather than when their lease runs out. Posting again is safe: a retried row looks
    for the copy an earlier attempt may have left before it posts."""
    for other in store.outbox.outbox_lease_owners(now=now):
        if owner_gone(other, me=owner):
            freed = store.outbox.free_outbox_leases(other, now=now)
            if freed:
                log.info("took over %d outbox row(s) from stopped process %s", freed, other)


def retry_time(exc: DeliveryRetry, now: datetime) -> datetime:
    """When a row the service asked us to wait with is tried again: as asked, but never
    later than RETRY_CAP_SECONDS (an hour-long Retry-After must not park a card for an hour)."""
    return now + timedelta(seconds=min(exc.after_seconds, RETRY_CAP_SECONDS))


def backlog_warning(backlog: dict[str, Any], *, now: datetime, error: str) -> str:
    """The warning logged when a row must wait (at most every WARN_EVERY_SECONDS, see
    `OutboxHold`): how many wait, since when, why."""
    oldest = backlog["oldest"]
    since = ""
    if oldest is not None:
        since = (
            f"; the oldest (outbox row {oldest['id']}, {oldest['kind']}) has waited {_age(oldest['created_at'], now)}"
        )
    return (
        f"{backlog['waiting']} outbox message(s) waiting{since}: {error}. "
        f"They are retried at least every {RETRY_CAP_SECONDS // 60} min until delivered"
    )


def outbox_status(backlog: dict[str, Any], *, now: datetime) -> tuple[str, bool]:
    """The outbox line of `watcher check` (from `Store.outbox_backlog()`), and whether it is
    healthy: messages waiting for a service (since when, the last error) and messages that
    can never be delivered (why)."""
    oldest, failed = backlog["oldest"], backlog["last_failed"]
    parts = [f"{backlog['sent']} delivered, {backlog['waiting']} waiting, {backlog['failed']} failed"]
    if oldest is not None:
        tried = f" (tried {oldest['attempts']} time(s): {oldest['last_error']})" if oldest["last_error"] else ""
        parts.append(
            f"oldest waiting: outbox row {oldest['id']} ({oldest['kind']}), {_age(oldest['created_at'], now)}{tried}"
        )
    if failed is not None:
        parts.append(f"last failed: outbox row {failed['id']} ({failed['kind']}): {failed['last_error']}")
    # healthy while nothing has waited past one retry period; failed rows are listed, not alarmed
    # on forever (each was refused for a reason its error names)
    stuck = oldest is not None and (now - oldest["created_at"]).total_seconds() > RETRY_CAP_SECONDS
    return "; ".join(parts), not stuck


def _age(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


PRIORITY_STYLE = {"urgent": "bold red", "high": "yellow", "normal": "cyan", "low": "dim"}


class ConsoleNotifier:
    """Prints new queue items to the terminal when Slack is not configured."""

    def __init__(self, store: Store, console: Console | None = None) -> None:
        self.store = store
        self.console = console or Console()

    def deliver(self, row: OutboxRow) -> str:
        item = self.store.items.get_item(row.item_id) if row.item_id else None
        post = self.store.posts.get_post(row.payload.get("post_key", "")) if row.payload.get("post_key") else None
        if item is None or post is None:  # spike alerts, reminders: their text says it
            text = row.payload.get("text") or json.dumps(row.payload, ensure_ascii=False)
            self.console.print(f"[dim]{row.kind}[/dim] {escape(str(text))}")
            return f"console:{row.id}"
        triage = self.store.posts.post_triage(post.key)
        reasons = "; ".join(triage.reasons) if triage else ""
        style = PRIORITY_STYLE.get(item.priority, "")
        title = f"[{style}]{item.priority.upper()}[/{style}] #{item.id} {post.platform} @{post.author.handle}"
        body = post.text if len(post.text) <= 280 else post.text[:277] + "..."
        self.console.print(Panel(f"{body}\n[dim]{reasons}[/dim]", title=title, title_align="left"))
        return f"console:{row.id}"
