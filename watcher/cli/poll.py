"""`watcher run` (the service) and `watcher poll` (each source once)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from watcher.cli.context import AppContext, pass_app
from watcher.cli.errors import err, friendly_errors
from watcher.core.config import ConfigError
from watcher.core.vocab import PRIORITIES

if TYPE_CHECKING:  # imported inside the commands: `watcher --help` stays fast
    from connectors.base import Connector
    from watcher.core.item import OutboxRow
    from watcher.core.post import Post
    from watcher.notify.outbox import ConsoleNotifier
    from watcher.service import Service

SHOWN_CARDS = 20  # `poll` prints this many new cards in full; more are summarised
SUMMARY_EXAMPLES = 5  # ... and then the first few are shown


@click.command()
@pass_app
@friendly_errors
def run(app: AppContext) -> None:
    """Run the service: poll every source on its schedule, triage, queue, notify.

    Stops cleanly on Ctrl-C or SIGTERM: the batch in flight is committed first.
    """
    from watcher.config import slack_env_problems
    from watcher.digest.jobs import register_digest_jobs
    from watcher.scheduler import run_forever
    from watcher.service import Service

    config = app.config()
    problems = slack_env_problems(config, os.environ)
    if problems:
        raise ConfigError(problems)
    service = Service.from_config(config)
    deliver = slack_delivery(service, os.environ, serve=True) if config.slack.enabled else None
    where = "Slack" if deliver else "this console"
    err.print(
        f"watching {len(service.pollers)} source(s); database {config.resolve_path(config.storage.path)}; "
        f"new items go to {where}"
    )
    run_forever(service, deliver=deliver, extra_jobs=[register_digest_jobs])
    err.print("stopped cleanly")


def slack_delivery(service: Service, env: Mapping[str, str], *, serve: bool) -> Callable[[], Any]:
    """The Slack tick that replaces the console outbox flush (cards, updates, SLA
    reminders, snooze wake-ups); with `serve`, the Slack app (buttons and modals) runs
    beside the scheduler. Replies go back through the connector of the source that
    fetched the post."""
    from watcher.cli.slack import connector_for_config
    from watcher.slack.app import start as serve_slack
    from watcher.slack.client import make_client
    from watcher.slack.jobs import run_slack_jobs
    from watcher.slack.runtime import SlackRuntime

    by_source = {name: poller.connector for name, poller in service.pollers.items()}
    fallback = connector_for_config(service.config, env)

    def connector_for(post: Post) -> Connector:
        return by_source.get(post.source) or fallback(post)

    runtime = SlackRuntime(
        config=service.config, store=service.store, client=make_client(service.config, env), connector_for=connector_for
    )
    service.notifier = runtime.notifier
    if serve:
        threading.Thread(
            target=serve_slack, args=(runtime, env), kwargs={"with_jobs": False}, daemon=True, name="slack-app"
        ).start()
    return lambda: run_slack_jobs(runtime)


class SummaryNotifier:
    """The console notifier for `poll`: a few new cards are printed in full; when more
    than SHOWN_CARDS came in, their counts per priority and the first few instead (a
    history import would otherwise scroll thousands of panels past)."""

    def __init__(self, console: ConsoleNotifier) -> None:
        self.console = console
        self.cards: list[OutboxRow] = []

    def deliver(self, row: OutboxRow) -> str:
        if not row.item_id:  # spike alerts, reminders: printed as they come
            return self.console.deliver(row)
        self.cards.append(row)
        return f"console:{row.id}"

    def show(self) -> None:
        cards, self.cards = self.cards, []
        if len(cards) <= SHOWN_CARDS:
            for row in cards:
                self.console.deliver(row)
            return
        for row in cards[:SUMMARY_EXAMPLES]:
            self.console.deliver(row)
        counts = Counter(self._priority(row) for row in cards)
        by_priority = ", ".join(f"{counts[p]} {p}" for p in (*PRIORITIES, "") if counts[p])
        self.console.console.print(
            f"{len(cards)} new cards ({by_priority}); the first {SUMMARY_EXAMPLES} are above. "
            "`watcher queue` lists them all, urgent first."
        )

    def _priority(self, row: OutboxRow) -> str:
        item = self.console.store.items.get_item(row.item_id) if row.item_id else None
        return str(item.priority) if item is not None else ""


@click.command()
@click.option("--once", is_flag=True, default=True, help="Poll each source once and exit (the default).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@pass_app
@friendly_errors
def poll(app: AppContext, once: bool, sources: tuple[str, ...]) -> None:
    """Poll the sources once, store and queue what came in, deliver notifications."""
    from watcher.config import slack_env_problems
    from watcher.notify.outbox import ConsoleNotifier
    from watcher.scheduler import prune_payloads
    from watcher.service import Service

    config = app.config()
    unknown = [s for s in sources if s not in {src.name for src in config.sources}]
    if unknown:
        raise click.UsageError(f"unknown source(s) {', '.join(unknown)}; see [sources.*] in {config.file}")
    problems = slack_env_problems(config, os.environ)
    if problems:
        raise ConfigError(problems)
    service = Service.from_config(config)
    prune_payloads(service)  # `run` prunes on a schedule; a cron of `poll` prunes here
    summary: SummaryNotifier | None = None
    if config.slack.enabled:
        deliver = slack_delivery(service, os.environ, serve=False)
    else:
        summary = SummaryNotifier(ConsoleNotifier(service.store))
        service.notifier = summary
        deliver = service.flush
    try:
        names = list(sources) or list(service.pollers)
        table = Table("source", "status", "fetched", "stored", "collapsed", "queued", "requests", "message")
        failed = False
        for name in names:
            outcome = service.poll(name)
            r = outcome.report
            failed = failed or outcome.status in ("failed", "unhealthy")
            table.add_row(
                name,
                outcome.status,
                str(r.fetched),
                str(r.stored),
                str(r.collapsed),
                str(r.queued),
                str(outcome.requests),
                outcome.message or "; ".join(r.problems[:3]),
            )
        deliver()
        if summary is not None:
            summary.show()
    finally:
        service.close()
    Console().print(table)
    if failed:
        raise SystemExit(1)
