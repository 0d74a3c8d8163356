"""Terminal views shared by the CLI and the demo (rich tables, pure formatting)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich import box
from rich.markup import escape
from rich.table import Table

from watcher.core.item import QueueRow
from watcher.core.text import visible
from watcher.store import SourceState


def age_text(created_at: datetime, now: datetime) -> str:
    seconds = max(0, int((now - created_at).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


def excerpt(text: str, width: int = 70) -> str:
    """One line of a stranger's text, hidden and reordering characters shown (watcher.core.text)."""
    flat = " ".join(visible(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def source_status(state: SourceState, now: datetime) -> str:
    """One source's health for `watcher check` (rich markup): whether it is polled now, and
    if not, why and until when; a rate limit names the endpoint that ran out."""
    until = state.backoff_until
    waiting = until is not None and until > now
    when = f"{until:%Y-%m-%d %H:%M} UTC" if until is not None else ""
    if not state.healthy:
        text = f"[red]unhealthy[/red] {escape(state.message)}"
        return text + (f"; tried again after {when}" if waiting else "")
    last = state.last_success_at
    polled = f"last good poll {last:%Y-%m-%d %H:%M} UTC" if last is not None else "not polled yet"
    if not waiting:
        return f"[green]healthy[/green], {polled}"
    limits = sorted(endpoint for endpoint, reset in state.rate_limits.items() if reset > now)
    if limits:
        return f"[yellow]rate limited[/yellow] ({', '.join(limits)}) until {when}; {polled}"
    failures = state.failures
    return (
        f"[yellow]backing off[/yellow] after {failures} failed poll(s) until {when}: {escape(state.message)}; {polled}"
    )


PRIORITY_STYLE = {"urgent": "bold red", "high": "yellow", "normal": "cyan", "low": "dim"}


_BACKGROUND = ("needs-reply model", "neutral", "positive", "negative")


def headline_reasons(reasons: Sequence[str], limit: int = 3) -> list[str]:
    """What a person scanning the queue needs first: the intents and context that made
    the rank (legal threat, 3rd message), before the model and sentiment figures."""
    return sorted(reasons, key=lambda reason: reason.startswith(_BACKGROUND))[:limit]


def queue_table(rows: list[QueueRow], *, now: datetime, title: str = "", sla: dict[int, str] | None = None) -> Table:
    """The ranked queue; each row shows the post excerpt with its triage reasons under it."""
    table = Table(title=title or None, box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "priority", "age"):
        table.add_column(column, no_wrap=True)
    table.add_column("from", max_width=18, overflow="ellipsis", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    table.add_column("state", max_width=14, overflow="ellipsis", no_wrap=True)
    if sla is not None:
        table.add_column("SLA", max_width=16, overflow="fold")
    table.add_column("post / why", ratio=1, min_width=26, overflow="fold")
    for row in rows:
        style = PRIORITY_STYLE.get(row.item.priority, "")
        repeats = f" (+{row.item.repeat_count} repeat)" if row.item.repeat_count else ""
        reasons = "; ".join(headline_reasons(row.reasons))
        table.add_row(
            str(row.item.id),
            f"[{style}]{row.item.priority}[/{style}] {row.item.score}" + (" ⚑" if row.item.escalated else ""),
            age_text(row.created_at, now),
            escape(visible(f"{row.platform} @{row.handle}" if row.handle else row.platform)),
            row.lang or "",
            str(row.item.state) + (f" ({row.item.assignee})" if row.item.assignee else ""),
            *([sla.get(row.item.id, "")] if sla is not None else []),
            escape(excerpt(row.text)) + repeats + (f"\n[dim]{escape(reasons)}[/dim]" if reasons else ""),
        )
    return table
