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
