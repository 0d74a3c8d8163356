"""Notifiers deliver outbox rows (new queue cards, reminders, digests) to people.

The pipeline writes outbox rows in the same transaction as the posts; `flush_outbox`
delivers them afterwards. A row is marked sent with the notifier's reference (a
Slack message ts, say) so it is never delivered twice; a notifier that cannot
deliver now raises `DeliveryRetry` and the row waits, nothing lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from watcher.post import utc_now
from watcher.store import Store

MAX_ATTEMPTS = 20
LEASE_SECONDS = 120  # longer than any one delivery takes, short enough to retry soon after a crash


class DeliveryRetry(Exception):
    """Cannot deliver now (service down, 429); try again after `after_seconds`."""

    def __init__(self, message: str, *, after_seconds: float) -> None:
        super().__init__(message)
        self.after_seconds = after_seconds


class DeliveryFailed(Exception):
    """Will never be deliverable as it is (a deleted channel, say): stop retrying."""


class Notifier(Protocol):
    def deliver(self, row: dict[str, Any]) -> str:
        """Deliver one outbox row; return a reference stored with it (message id/ts)."""
        ...


@dataclass(frozen=True)
class FlushReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def flush_outbox(
    store: Store, notifier: Notifier, *, clock: Callable[[], datetime] = utc_now, limit: int = 100
) -> FlushReport:
    """Deliver due rows. Each row is leased first, so two flushes (threads or processes,
    `watcher run` beside `watcher poll`) never deliver the same row; a crash mid-delivery
    frees the lease after LEASE_SECONDS and the row is delivered again."""
    sent = retrying = failed = 0
    for row in store.due_outbox(now=clock(), limit=limit):
        now = clock()
        if not store.lease_outbox(row["id"], now=now, until=now + timedelta(seconds=LEASE_SECONDS)):
            continue  # another flush took it first
        try:
            ref = notifier.deliver({**row, "leased": True})
        except DeliveryRetry as exc:
            if row["attempts"] + 1 >= MAX_ATTEMPTS:
                store.mark_outbox_failed(row["id"], error=f"gave up after {MAX_ATTEMPTS} attempts: {exc}")
                failed += 1
            else:
                store.mark_outbox_retry(
                    row["id"], next_attempt_at=clock() + timedelta(seconds=exc.after_seconds), error=str(exc)
                )
                retrying += 1
            # a service that asks us to wait is not asked again in this flush
            break
        except DeliveryFailed as exc:
            store.mark_outbox_failed(row["id"], error=str(exc))
            failed += 1
            continue
        store.mark_outbox_sent(row["id"], ref=ref, now=clock())
        sent += 1
    return FlushReport(sent=sent, retrying=retrying, failed=failed)


PRIORITY_STYLE = {"urgent": "bold red", "high": "yellow", "normal": "cyan", "low": "dim"}


class ConsoleNotifier:
    """Prints new queue items to the terminal when Slack is not configured."""

    def __init__(self, store: Store, console: Console | None = None) -> None:
        self.store = store
        self.console = console or Console()

    def deliver(self, row: dict[str, Any]) -> str:
        item = self.store.get_item(row["item_id"]) if row.get("item_id") else None
        post = self.store.get_post(row["payload"].get("post_key", "")) if row["payload"].get("post_key") else None
        if item is None or post is None:  # spike alerts, reminders: their text says it
            text = row["payload"].get("text") or json.dumps(row["payload"], ensure_ascii=False)
            self.console.print(f"[dim]{row['kind']}[/dim] {escape(str(text))}")
            return f"console:{row['id']}"
        triage = self.store.post_triage(post.key)
        reasons = "; ".join(triage.reasons) if triage else ""
        style = PRIORITY_STYLE.get(item["priority"], "")
        title = f"[{style}]{item['priority'].upper()}[/{style}] #{item['id']} {post.platform} @{post.author.handle}"
        body = post.text if len(post.text) <= 280 else post.text[:277] + "..."
        self.console.print(Panel(f"{body}\n[dim]{reasons}[/dim]", title=title, title_align="left"))
        return f"console:{row['id']}"
