"""`watcher check`: the config file, the environment it names, each source's own
checks, the request budgets and the database, as one table."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from watcher.cli.context import AppContext, pass_app
from watcher.cli.errors import EXIT_CONFIG, friendly_errors, report_problems
from watcher.core.config import ConfigError, ConfigProblem
from watcher.core.post import utc_now
from watcher.core.vocab import OPEN_STATES

if TYPE_CHECKING:
    from connectors.base import BudgetRow, Connector
    from watcher.config import Config


def native_check_minutes(config: Config) -> int:
    """How often the Slack job looks for replies made natively (0: it does not run)."""
    return config.slack.native_reply_check_minutes if config.slack.enabled else 0


def request_budget(config: Config) -> tuple[list[BudgetRow], list[ConfigProblem]]:
    """Each kind's request budget lines and its over-budget problems. All sources go in,
    disabled ones too: the Slack job still checks their open items for native replies
    (each connector's `plan_budget` decides what it plans for them)."""
    from connectors.base import connector_class

    minutes = native_check_minutes(config)
    rows: list[BudgetRow] = []
    problems: list[ConfigProblem] = []
    for kind in sorted({s.kind for s in config.sources}):
        cls = connector_class(kind)
        own = [s for s in config.sources if s.kind == kind]
        rows += cls.plan_budget(own, native_check_minutes=minutes)
        problems += cls.budget_problems(own, native_check_minutes=minutes)
    return rows, problems


def source_checks(connectors: dict[str, Connector]) -> dict[str, list[str]]:
    """Each built source's own check (token, permissions, ids), by source name."""
    from connectors.base import ConnectorError

    found: dict[str, list[str]] = {}
    for name, connector in connectors.items():
        try:
            found[name] = connector.check()
        except ConnectorError as exc:  # a check that could not finish is that source's problem, not the run's
            found[name] = [f"{name}: {exc.message}"]
    return found


@click.command()
@pass_app
@friendly_errors
def check(app: AppContext) -> None:
    """Validate the config file, the environment variables it names, and the database."""
    from watcher.cli.views import source_status
    from watcher.config import slack_env_problems
    from watcher.notify.outbox import outbox_status
    from watcher.service import build_connector
    from watcher.store import StoreError

    config = app.config()
    console = Console()
    problems = list(slack_env_problems(config, os.environ))
    built: dict[str, Connector] = {}
    for source in (s for s in config.sources if s.enabled):
        try:
            built[source.name] = build_connector(source, os.environ)
        except ConfigError as exc:
            problems.extend(exc.problems)
    table = Table("check", "result")
    table.add_row("config file", f"[green]ok[/green] {config.file}")
    enabled = [s for s in config.sources if s.enabled]
    table.add_row("sources", f"{len(enabled)} enabled: " + ", ".join(f"{s.name} ({s.kind})" for s in enabled))
    if native_check_minutes(config):
        # never polled, but the Slack job still asks them about their open items' native replies
        for source in (s for s in config.sources if not s.enabled):
            try:
                build_connector(source, os.environ).close()
            except ConfigError as exc:
                reasons = "; ".join(f"{p.key}: {p.reason}" for p in exc.problems)
                table.add_row(
                    f"disabled {source.name}",
                    f"[yellow]its open items cannot be checked for native replies ({reasons}); "
                    "fix that, or answer or dismiss them in Slack[/yellow]",
                )
    table.add_row("environment", "[green]ok[/green]" if not problems else f"[red]{len(problems)} problem(s)[/red]")
    budget, budget_problems = request_budget(config)
    for row in budget:
        table.add_row("request budget", escape(row.text) if row.ok else f"[red]{escape(row.text)}[/red]")
    # an overspend is the source's own row, not the environment's: the fix is in its table
    for source in config.sources:
        fixes = [row.fix for row in budget if not row.ok and source.name in row.sources]
        if fixes:
            table.add_row(f"budget {source.name}", f"[red]over budget: {escape('; '.join(fixes))}[/red]")
    problems.extend(budget_problems)
    db_ok = True
    try:
        with app.store() as store:
            table.add_row(
                "database",
                f"[green]ok[/green] {store.path} schema v{store.schema_version()}, "
                f"{store.posts.count_posts()} posts, {store.items.count_items(states=OPEN_STATES)} open items",
            )
            now = utc_now()
            for src in enabled:
                table.add_row(f"source {src.name}", source_status(store.sources.source_state(src.name), now))
            line, healthy = outbox_status(store.outbox.outbox_backlog(), now=now)
            table.add_row("outbox", escape(line) if healthy else f"[yellow]{escape(line)}[/yellow]")
    except StoreError as exc:
        db_ok = False
        table.add_row("database", f"[red]{exc}[/red]")
    try:
        checked = source_checks(built)
    finally:
        for connector in built.values():
            connector.close()
    for name, found in checked.items():
        for problem in found:
            table.add_row(f"source {name}", f"[red]{escape(problem)}[/red]")
    console.print(table)
    if problems:
        report_problems(problems)
    if not db_ok or any(checked.values()):
        raise SystemExit(EXIT_CONFIG)
