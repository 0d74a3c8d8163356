"""`watcher digest`: mention summary and response-time report for a day or a week.

Added to the CLI by `watcher.cli.main._add_feature_commands`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.console import Console

from watcher.cli.errors import fail, friendly_errors, load_config_or_exit, open_store_or_exit
from watcher.core.post import utc_now

if TYPE_CHECKING:  # the digest package (matplotlib, Slack) is imported when a digest is made
    from watcher.config import Config
    from watcher.store import Store

_BOLD = re.compile(r"\*([^*\n]+)\*")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def terminal_text(mrkdwn: str) -> str:
    """The Slack message for a terminal: bold as rich markup, links as "text (url)"."""
    text = _LINK.sub(r"\2 (\1)", mrkdwn.replace("[", r"\["))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _BOLD.sub(r"[bold]\1[/bold]", text)


def _open_store(path: Path) -> Store:
    if not path.exists():
        fail("database error", f"no database at {path}; run `watcher run` (or `watcher demo`) first, or pass --db PATH")
    return open_store_or_exit(path)


@click.command("digest")
@click.option(
    "--period",
    type=click.Choice(["day", "week"]),
    default="day",
    show_default=True,
    help="A calendar day or a Monday-to-Monday week in the brand's time zone.",
)
@click.option(
    "--since", help="Start: 2026-10-25 (local midnight) or 2026-10-25T09:00[+01:00]. Default: the last complete period."
)
@click.option("--until", help="End (exclusive), same forms. With --since: exactly that stretch.")
@click.option("--post", "post_to_slack", is_flag=True, help="Post the digest and its charts to Slack.")
@click.option("--channel", help="Slack channel for --post (default: digest.channel, else slack.channel).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report (charts embedded) to this file.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every figure as CSV rows (section, group, key, metric, value).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file [default: ./config.toml].",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this database instead of the config's storage.path (no config needed).",
)
@click.option("--timezone", help="Time zone for periods (default: brand.timezone, else UTC).")
@click.option("--now", "now_text", hidden=True, help="Pretend it is this UTC time (reproducible reports).")
@friendly_errors
def digest(
    period: str,
    since: str | None,
    until: str | None,
    post_to_slack: bool,
    channel: str | None,
    html_path: Path | None,
    csv_path: Path | None,
    config_path: Path | None,
    db_path: Path | None,
    timezone: str | None,
    now_text: str | None,
) -> None:
    """Mention summary and response-time report for a day or a week.

    Volume by platform and source with the change from the previous period,
    sentiment, top intents, recurring themes in negative posts, top posts by reach,
    first response times per priority and agent, languages. Prints a summary; writes
    HTML and CSV on request; posts to Slack with --post.
    """
    from watcher.digest.figures import collect_digest, sla_targets
    from watcher.digest.html import render_html
    from watcher.digest.jobs import build_digest, draw_charts
    from watcher.digest.slack import DigestPostError, post_digest, slack_client
    from watcher.digest.text import digest_text, write_csv
    from watcher.digest.windows import DigestError, parse_moment, period_window

    console = Console()
    config: Config | None = None
    if config_path is not None or db_path is None:
        path = config_path or Path("config.toml")
        config = load_config_or_exit(path, hint="(or read a database directly with --db PATH)")
    if post_to_slack and config is None:
        raise click.ClickException("--post needs a config with a [slack] section; pass --config PATH")
    try:  # a missing token is found before the work, not after
        client = slack_client(config, os.environ) if post_to_slack and config is not None else None
    except DigestPostError as exc:
        raise click.ClickException(str(exc)) from None
    tz = timezone or (config.brand.timezone if config else "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.ClickException(
            f'--timezone: unknown time zone {tz!r}; use an IANA name like "Europe/Rome"'
        ) from None
    try:
        now = parse_moment(now_text, "UTC", option="--now") if now_text else utc_now()
        window_args = {
            "since": parse_moment(since, tz, option="--since") if since else None,
            "until": parse_moment(until, tz, option="--until") if until else None,
        }
        store_path = db_path or (config.resolve_path(config.storage.path) if config else Path("watcher.db"))
        with _open_store(store_path) as store:
            if config is not None:
                report = build_digest(store, config, period=period, now=now, timezone=tz, **window_args)
            else:
                report = collect_digest(
                    store,
                    period_window(period, timezone=tz, now=now, **window_args),
                    sla_targets=sla_targets(),
                    now=now,
                )
    except DigestError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(terminal_text(digest_text(report)), highlight=False)
    if config is None and report.themes:  # --db alone: the digest cannot tell the brand's names from themes
        console.print("Themes may include the brand's own names: pass --config to leave them out.", style="dim")
    charts = draw_charts(report, where="watcher digest") if (html_path or post_to_slack) else {}
    if html_path is not None:
        _write(html_path, render_html(report, charts), "HTML report")
        console.print(f"HTML report written to {html_path}")
    if csv_path is not None:
        try:
            rows = write_csv(report, csv_path)
        except OSError as exc:
            raise click.ClickException(f"cannot write the CSV export {csv_path}: {exc.strerror}") from None
        console.print(f"CSV export written to {csv_path} ({rows} rows)")
    if client is not None and config is not None:
        target = channel or config.digest.channel or config.slack.channel
        try:
            ts = post_digest(client, target, report, charts)
        except DigestPostError as exc:
            raise click.ClickException(str(exc)) from None
        console.print(f"Posted to Slack {target} (ts {ts})")


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write the {what} {path}: {exc.strerror}") from None
