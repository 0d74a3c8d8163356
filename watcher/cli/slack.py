"""`watcher slack ...`: print the app manifest, run the Slack app, run one Slack tick.

Added to the CLI by `watcher.cli.main._add_feature_commands`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

import click

from connectors.base import Connector, connector_class
from watcher.cli.errors import friendly_errors, load_config_or_exit, open_store_or_exit, report_problems
from watcher.core.config import ConfigProblem
from watcher.core.post import Post

if TYPE_CHECKING:  # Slack's SDKs are imported when a Slack command runs, not for --help
    from watcher.config import Config
    from watcher.slack.runtime import ConnectorFor, SlackRuntime

BOT_SCOPES = (
    "chat:write",  # post cards, threads and reminders; update cards; ephemeral refusals
    "files:write",  # digest charts (files_upload_v2)
    "channels:history",  # find a card posted before a crash (message metadata) in public channels
    "groups:history",  # ... and in private channels
    "usergroups:read",  # moderators and approvers given as user groups
    "channels:read",  # resolve a channel given by name (#care) to its id
    "groups:read",  # ... for private channels
)


def manifest_text(*, mode: str = "socket", request_url: str = "", name: str = "Social Care Watcher") -> str:
    """The Slack app manifest (YAML) a workspace admin pastes at api.slack.com/apps >
    Create New App > From an app manifest."""
    if mode == "http" and not request_url.startswith("https://"):
        raise click.UsageError("HTTP mode needs --request-url https://your-host/slack/events (Slack requires HTTPS)")
    scopes = "\n".join(f"      - {scope}" for scope in BOT_SCOPES)
    interactivity = "    is_enabled: true"
    if mode == "http":
        interactivity += f"\n    request_url: {request_url}"
    return (
        "_metadata:\n"
        "  major_version: 1\n"
        "  minor_version: 1\n"
        "display_information:\n"
        f"  name: {name}\n"
        "  description: Moderated queue for public replies to social media mentions\n"
        '  background_color: "#1d4ed8"\n'
        "features:\n"
        "  bot_user:\n"
        "    display_name: watcher\n"
        "    always_online: true\n"
        "oauth_config:\n"
        "  scopes:\n"
        "    bot:\n"
        f"{scopes}\n"
        "settings:\n"
        "  interactivity:\n"
        f"{interactivity}\n"
        "  org_deploy_enabled: false\n"
        f"  socket_mode_enabled: {'true' if mode == 'socket' else 'false'}\n"
        "  token_rotation_enabled: false\n"
    )


def connector_for_config(config: Config, env: Mapping[str, str]) -> ConnectorFor:
    """Reply connectors built from `[sources.*]` on first use, one per source: a
    post goes back through the source that fetched it (or one of its platform's kind)."""
    built: dict[str, Connector] = {}
    lock = threading.Lock()

    def connector_for(post: Post) -> Connector:
        name = post.source
        names = [s.name for s in config.sources]
        if name not in names:
            name = next((s.name for s in config.sources if s.kind == post.platform), "")
        if not name:
            raise LookupError(
                f"no source in {config.file} fetched {post.key}; add a [sources.*] table for {post.platform}"
            )
        with lock:
            if name not in built:
                src = config.source(name)
                built[name] = connector_class(src.kind).from_config(src, env)
            return built[name]

    return connector_for


def _runtime(config_path: str | None) -> SlackRuntime:
    from watcher.config import slack_env_problems
    from watcher.slack.client import make_client
    from watcher.slack.runtime import SlackRuntime

    if config_path is None:  # `watcher --config X slack serve` and `watcher slack serve --config X` both work
        config_path = click.get_current_context().find_root().params.get("config_path") or "config.toml"
    config = load_config_or_exit(config_path)
    if not config.slack.enabled:
        report_problems([ConfigProblem(config.file, "slack.enabled", "is false; set it to true and fill in [slack]")])
    problems = slack_env_problems(config, os.environ)
    if problems:
        report_problems(problems)
    store = open_store_or_exit(config.resolve_path(config.storage.path))
    return SlackRuntime(
        config=config,
        store=store,
        client=make_client(config, os.environ),
        connector_for=connector_for_config(config, os.environ),
    )


@click.group("slack")
def slack() -> None:
    """The Slack moderated queue: app manifest, the app itself, one delivery tick."""


@slack.command("manifest")
@click.option("--mode", type=click.Choice(["socket", "http"]), default="socket", show_default=True)
@click.option("--request-url", default="", help="HTTP mode: the public HTTPS URL of /slack/events.")
@click.option("--name", default="Social Care Watcher", show_default=True, help="The app's name in Slack.")
def manifest(mode: str, request_url: str, name: str) -> None:
    """Print the Slack app manifest to paste at api.slack.com/apps."""
    click.echo(manifest_text(mode=mode, request_url=request_url, name=name), nl=False)


@slack.command("serve")
@click.option(
    "--config", "config_path", default=None, type=click.Path(), help="Config file (default: watcher --config)."
)
@click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Also deliver cards, updates and SLA reminders (off when `watcher run` already does).",
)
@friendly_errors
def serve(config_path: str | None, jobs: bool) -> None:
    """Run the Slack app (Socket Mode, or HTTP with signed requests) until Ctrl-C."""
    from watcher.slack.app import start

    runtime = _runtime(config_path)
    try:
        start(runtime, os.environ, with_jobs=jobs)
    finally:
        runtime.store.close()


@slack.command("flush")
@click.option(
    "--config", "config_path", default=None, type=click.Path(), help="Config file (default: watcher --config)."
)
@friendly_errors
def flush(config_path: str | None) -> None:
    """Run one Slack tick now: wake snoozed items, SLA reminders, deliver the outbox."""
    from watcher.slack.jobs import run_slack_jobs

    runtime = _runtime(config_path)
    try:
        report = run_slack_jobs(runtime)
    finally:
        runtime.store.close()
    click.echo(
        f"woken {report.woken}, reminders {report.reminded}, answered natively {report.answered_elsewhere}; "
        f"delivered {report.sent}, waiting {report.retrying}, failed {report.failed}"
    )
