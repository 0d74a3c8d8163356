"""`watcher queue`: the ranked queue in the terminal (or as JSON lines)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import click
from rich.console import Console

from watcher.cli.context import AppContext, pass_app
from watcher.cli.errors import friendly_errors
from watcher.core.post import utc_now
from watcher.core.vocab import FINAL_STATES, OPEN_STATES, PRIORITIES

if TYPE_CHECKING:
    from watcher.config import Config
    from watcher.core.item import QueueRow


@click.command()
@click.option("--priority", type=click.Choice(PRIORITIES), help="Only this priority.")
@click.option("--platform", help="Only this platform (x, reddit, ...).")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(OPEN_STATES + FINAL_STATES),
    help="Only these states (repeatable; default: all open states).",
)
@click.option("--limit", default=30, show_default=True, help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@pass_app
@friendly_errors
def queue(
    app: AppContext, priority: str | None, platform: str | None, states: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Show the ranked queue: urgent first, then by score, oldest first."""
    from watcher.cli.views import queue_table

    config = app.config()
    with app.store() as store:
        rows = store.items.queue_rows(states=states or OPEN_STATES, platform=platform, priority=priority, limit=limit)
    now = utc_now()
    sla = sla_texts(rows, config, now=now)
    if as_json:
        for row in rows:
            click.echo(json.dumps({**row.as_json(), "sla": sla[row.item.id]}, ensure_ascii=False))
        return
    if not rows:
        Console().print("the queue is empty")
        return
    Console().print(queue_table(rows, now=now, sla=sla))


def sla_texts(rows: list[QueueRow], config: Config, *, now: datetime) -> dict[int, str]:
    """Each item's SLA clock in words ("claim within 40 min", "SLA missed by 1 h"), counted
    like the Slack cards count it: slack.sla_minutes in business hours."""
    from watcher.slack.sla import BusinessHours, sla_state

    hours = BusinessHours.from_config(config.slack, config.brand.timezone)
    return {row.item.id: sla_state(row.item, slack=config.slack, hours=hours, now=now).describe() for row in rows}
