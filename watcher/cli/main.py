"""The `watcher` command line (click). Every command has --help; every error a user
sees says what, where and what to do, and exits non-zero without a traceback.

Each command lives in its own module and imports what it needs (the store, the
triage engine, Slack, the SDKs) when it runs: `watcher --help` loads none of them."""

from __future__ import annotations

import logging
from typing import Any

import click

from watcher.cli.check import check
from watcher.cli.context import AppContext
from watcher.cli.digest import digest
from watcher.cli.errors import err
from watcher.cli.poll import poll, run
from watcher.cli.queue import queue
from watcher.cli.rules import rules, train
from watcher.cli.score import score
from watcher.cli.slack import slack


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    default="config.toml",
    envvar="WATCHER_CONFIG",
    show_default=True,
    help="Config file (TOML). Also read from $WATCHER_CONFIG.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: int) -> None:
    """Social care watcher: find brand mentions, rank what needs a reply, run the reply queue."""
    from rich.logging import RichHandler

    from watcher.cli.logs import log_off_thread

    level = logging.WARNING - 10 * min(verbose, 2)
    log_off_thread(level, RichHandler(console=err, show_path=False))
    ctx.obj = AppContext(config_path)
    if ctx.get_parameter_source("config_path") != click.core.ParameterSource.DEFAULT:
        # subcommands with their own --config (digest, train, rules test, slack ...) default to this one
        ctx.default_map = _config_defaults(cli, config_path)


def _config_defaults(group: click.Group, config_path: str) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            nested = _config_defaults(command, config_path)
            if nested:
                defaults[name] = nested
        elif any(param.name == "config_path" for param in command.params):
            defaults[name] = {"config_path": config_path}
    return defaults


@cli.command()
@click.option("--duration", default=40.0, show_default=True, help="Seconds to replay the sample's three days in.")
@click.option("--fast", is_flag=True, help="No drip: ingest everything at once.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Keep the demo database at this path.")
@click.option("--show", default=15, show_default=True, help="Queue rows shown at the end.")
def demo(duration: float, fast: bool, db_path: str | None, show: int) -> None:
    """Offline demo, no credentials: drip the bundled sample posts through the whole
    pipeline into a temporary database and watch the ranked queue fill up."""
    from pathlib import Path

    from watcher.cli.demo import run_demo

    run_demo(duration=0.0 if fast else duration, db_path=Path(db_path) if db_path else None, show=show)


# click lists commands by name; this is only the order they are added in
for _command in (run, poll, queue, score, check, train, rules, digest, slack):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: no traceback reaches a user."""
    try:
        cli.main(prog_name="watcher")
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:  # last line of defence: a message, never a traceback
        logging.getLogger("watcher").debug("unexpected error", exc_info=True)
        err.print(
            f"[red]internal error[/red] {type(exc).__name__}: {exc}\n"
            "This is a bug in the watcher. Rerun with -vv to log details and report it.",
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(70) from None
