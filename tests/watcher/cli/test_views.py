from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import T0
from watcher.cli.views import source_status
from watcher.store import Store

LATER = T0 + timedelta(minutes=15)
LAST = T0 - timedelta(hours=1)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, "[green]healthy[/green], not polled yet"),
        (dict(last_success_at=LAST), f"[green]healthy[/green], last good poll {LAST:%Y-%m-%d %H:%M} UTC"),
        # a window that has passed is not shown: the next poll goes ahead
        (
            dict(backoff_until=T0 - timedelta(minutes=1), rate_limits={"search_recent": T0 - timedelta(minutes=1)}),
            "[green]healthy[/green], not polled yet",
        ),
        (
            dict(
                backoff_until=LATER,
                rate_limits={"user_mentions": LATER, "search_recent": LATER, "old": T0 - timedelta(days=1)},
                last_success_at=LAST,
                message="rate limited until 12:15:00 UTC",
            ),
            f"[yellow]rate limited[/yellow] (search_recent, user_mentions) until {LATER:%Y-%m-%d %H:%M} UTC; "
            f"last good poll {LAST:%Y-%m-%d %H:%M} UTC",
        ),
        (
            dict(backoff_until=LATER, failures=3, message="X API unreachable: timed out"),
            f"[yellow]backing off[/yellow] after 3 failed poll(s) until {LATER:%Y-%m-%d %H:%M} UTC: "
            "X API unreachable: timed out; not polled yet",
        ),
        (
            dict(healthy=False, backoff_until=LATER, failures=1, message="401 Unauthorized: check X_BEARER [x]"),
            f"[red]unhealthy[/red] 401 Unauthorized: check X_BEARER \\[x]; tried again after {LATER:%Y-%m-%d %H:%M} UTC",
        ),
        (dict(healthy=False, message="bad token"), "[red]unhealthy[/red] bad token"),
    ],
)
def test_source_status_says_whether_a_source_is_polled_and_why_not(
    store: Store, given: dict[str, Any], expected: str
) -> None:
    never_polled = store.sources.source_state("hist")  # what the store gives for a source it has no row for
    assert source_status(replace(never_polled, **given), T0) == expected


def test_queue_shows_rich_markup_in_a_handle_as_written_and_hidden_characters_visibly():
    from io import StringIO

    from rich.console import Console

    from watcher.cli.views import queue_table
    from watcher.core.item import QueueItem, QueueRow
    from watcher.core.vocab import Priority, QueueState

    item = QueueItem(1, "x:1", QueueState.NEW, Priority.HIGH, 70, "", T0, 1)
    row = QueueRow(item, platform="x", text="refund\u202etxt.exe", created_at=T0, lang="en", handle="[red]bo[/red]")
    out = StringIO()
    Console(file=out, width=200, color_system=None).print(queue_table([row], now=T0 + timedelta(hours=1)))
    assert "@[red]bo[/red]" in out.getvalue()
    assert "\u202e" not in out.getvalue() and "⟨U+202E⟩" in out.getvalue()
