"""The `watcher` command line (click). Every command has --help; every error a user
sees says what, where and what to do, and exits non-zero without a traceback."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from connectors.base import BudgetRow, Connector, connector_class
from rules.triage import Triage, TriageContext, Triager
from watcher.cli.errors import EXIT_CONFIG, err, friendly_errors, report_problems
from watcher.cli.logs import log_off_thread
from watcher.cli.views import queue_table, source_status
from watcher.config import Config, load_config, slack_env_problems
from watcher.core.config import ConfigError, ConfigProblem
from watcher.core.post import Author, Post, PostKind, parse_timestamp, utc_now
from watcher.core.settings import BrandConfig
from watcher.core.vocab import OPEN_STATES
from watcher.notify.outbox import outbox_status
from watcher.service import Service
from watcher.store import Store, StoreError

ALL_LANGUAGES = ("en", "it", "ro", "es", "de", "fr", "pt")


@dataclass
class AppContext:
    config_path: str
    _config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def has_config(self) -> bool:
        return Path(self.config_path).exists()

    def store(self) -> Store:
        config = self.config()
        return Store(config.resolve_path(config.storage.path))


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


pass_app = click.make_pass_decorator(AppContext)


# --- run / poll -------------------------------------------------------------


@cli.command()
@pass_app
@friendly_errors
def run(app: AppContext) -> None:
    """Run the service: poll every source on its schedule, triage, queue, notify.

    Stops cleanly on Ctrl-C or SIGTERM: the batch in flight is committed first.
    """
    from watcher.digest.jobs import register_digest_jobs
    from watcher.scheduler import run_forever

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


@cli.command()
@click.option("--once", is_flag=True, default=True, help="Poll each source once and exit (the default).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@pass_app
@friendly_errors
def poll(app: AppContext, once: bool, sources: tuple[str, ...]) -> None:
    """Poll the sources once, store and queue what came in, deliver notifications."""

    config = app.config()
    unknown = [s for s in sources if s not in {src.name for src in config.sources}]
    if unknown:
        raise click.UsageError(f"unknown source(s) {', '.join(unknown)}; see [sources.*] in {config.file}")
    problems = slack_env_problems(config, os.environ)
    if problems:
        raise ConfigError(problems)
    service = Service.from_config(config)
    deliver = slack_delivery(service, os.environ, serve=False) if config.slack.enabled else service.flush
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
    finally:
        service.close()
    Console().print(table)
    if failed:
        raise SystemExit(1)


# --- queue --------------------------------------------------------------------


@cli.command()
@click.option("--priority", type=click.Choice(["urgent", "high", "normal", "low"]), help="Only this priority.")
@click.option("--platform", help="Only this platform (x, reddit, ...).")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(list(OPEN_STATES) + ["replied", "dismissed"]),
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
    config = app.config()
    with app.store() as store:
        rows = store.items.queue_rows(states=states or OPEN_STATES, platform=platform, priority=priority, limit=limit)
    now = utc_now()
    sla = sla_texts(rows, config, now=now)
    if as_json:
        for row in rows:
            click.echo(json.dumps({**row, "sla": sla[row["id"]]}, ensure_ascii=False))
        return
    if not rows:
        Console().print("the queue is empty")
        return
    Console().print(queue_table(rows, now=now, sla=sla))


def sla_texts(rows: list[dict[str, Any]], config: Config, *, now: datetime) -> dict[int, str]:
    """Each item's SLA clock in words ("claim within 40 min", "SLA missed by 1 h"), counted
    like the Slack cards count it: slack.sla_minutes in business hours."""
    from watcher.slack.sla import BusinessHours, row_sla_state

    hours = BusinessHours.from_config(config.slack, config.brand.timezone)
    return {row["id"]: row_sla_state(row, slack=config.slack, hours=hours, now=now).describe() for row in rows}


# --- score --------------------------------------------------------------------


class LineError(ValueError):
    pass


MAX_FOLLOWERS = 10**12  # far above any real account; keeps the engine's float and int64 columns exact


def _shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (an input line can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _optional_string(record: Mapping[str, Any], key: str) -> str | None:
    """record[key] as a string, None when absent or empty; anything but a string is a LineError."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LineError(f"{key} must be a string, got {_shown(value)}")
    return value


def _identifier(value: Any, where: str) -> str:
    """An id or handle: a string or a whole number (JSON ids are often numbers)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise LineError(f"{where} must be a string or a whole number, got {_shown(value)}")


def _followers(value: Any) -> int:
    """A follower count: a whole number (1000, 1000.0 or "1000") from 0 to MAX_FOLLOWERS."""
    count: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, float) and value.is_integer():  # inf and nan are not
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        count = int(value.strip())
    if count is None or not 0 <= count <= MAX_FOLLOWERS:
        raise LineError(
            f"author.followers must be a whole number from 0 to {MAX_FOLLOWERS} like 1000, got {_shown(value)}"
        )
    return count


def _author(value: Any) -> Author:
    """The "author" field: a handle (or id), or an object with id, handle, followers, verified."""
    if value is None or value == "":
        return Author(id="unknown", handle="unknown")
    if not isinstance(value, dict):
        name = _identifier(value, "author")
        return Author(id=name, handle=name)
    handle_value, id_value = value.get("handle"), value.get("id")
    handle = _identifier(handle_value, "author.handle") if handle_value not in (None, "") else None
    ident = _identifier(id_value, "author.id") if id_value not in (None, "") else None
    verified = value.get("verified")
    if verified is not None and not isinstance(verified, bool):
        raise LineError(f"author.verified must be true or false, got {_shown(verified)}")
    followers = value.get("followers")
    return Author(
        id=ident or handle or "unknown",
        handle=handle or ident or "unknown",
        followers=0 if followers is None else _followers(followers),
        verified=bool(verified),
    )


def _created_at(value: Any) -> datetime:
    """The "created_at" field: ISO 8601 with a time zone, or epoch seconds; now when absent."""
    if value is None or value == "":
        return utc_now()
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LineError(f'created_at must be a time like "2026-11-20T10:00:00Z" or epoch seconds, got {_shown(value)}')
    out_of_range = f"created_at: {_shown(value)} is out of range" + (
        "" if isinstance(value, str) else " for epoch seconds (milliseconds? divide by 1000)"
    )
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        if isinstance(value, str):
            raise LineError(f"created_at: {exc}") from None
        raise LineError(out_of_range) from None  # a year past 9999
    except (OverflowError, OSError):  # beyond what the platform's clock functions (or year 1..9999 in UTC) take
        raise LineError(out_of_range) from None


def post_from_score_line(record: Any) -> Post:
    """A `watcher score` input object -> Post (id and text required). Every field is
    checked for its type here, so a wrong one is this line's error, not a crash."""
    if not isinstance(record, dict):
        raise LineError("expected a JSON object with at least id and text")
    for key in ("id", "text"):
        if record.get(key) in (None, ""):
            raise LineError(f"missing required field {key!r}")
    native_id = _identifier(record["id"], "id")
    if not isinstance(record["text"], str):
        raise LineError("text must be a string")
    author = _author(record.get("author"))
    created = _created_at(record.get("created_at"))
    platform = _optional_string(record, "platform") or "import"
    lang = _optional_string(record, "lang_hint")
    try:
        return Post(
            platform=platform,
            native_id=native_id,
            kind=PostKind.POST,
            text=record["text"],
            created_at=created,
            author=author,
            lang=lang,
        )
    except (ValueError, TypeError) as exc:
        raise LineError(str(exc)) from None


def _reject_constant(name: str) -> Any:
    """json.loads takes NaN and Infinity by default; they are not JSON and no id or count."""
    raise LineError(f"{name} is not valid JSON; write a number or a string")


UTF8_BOM = b"\xef\xbb\xbf"  # what Notepad and Excel put at the start of a "UTF-8" file


def _echoed_id(value: Any) -> Any:
    """The id an output line echoes: as given when it is a string or a whole number,
    else null (a list or 1.5 is no id, and NaN would not even be JSON)."""
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _id_despite_bad_bytes(raw: bytes) -> Any:
    """The id of a line that is not UTF-8 (its bad bytes read as U+FFFD), so its error
    line can still be matched to the post; None when the line is no JSON object."""
    try:
        record = json.loads(raw.decode("utf-8", errors="replace"), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return _echoed_id(record.get("id")) if isinstance(record, dict) else None


def parse_score_line(raw: bytes, number: int) -> tuple[Any, Post | str | None]:
    """One raw input line -> (the id to echo, its post or the reason it cannot be scored);
    None for a blank line. Line 1 may start with a UTF-8 byte order mark."""
    if number == 1 and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _id_despite_bad_bytes(raw), f"not UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8"
    if not line.strip():
        return None, None
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at column {exc.colno})"
    except LineError as exc:
        return None, str(exc)
    except ValueError:  # Python reads whole numbers of at most 4300 digits
        return None, "not valid JSON (a number too long to read)"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    ident = _echoed_id(record.get("id")) if isinstance(record, dict) else None
    try:
        return ident, post_from_score_line(record)
    except LineError as exc:
        return ident, str(exc)


def json_line(value: Any, *, encoding: str = "utf-8") -> str:
    """`value` as one line of valid JSON that `encoding` can write. Non-ASCII text goes
    out as is, unless the stream cannot carry it: a lone surrogate (an id like "\\ud800"
    from a cut emoji) is valid in JSON only as an escape, so is é on an ASCII stream."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if not text.isascii():
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            text = json.dumps(value, allow_nan=False)
    return text + "\n"


SCORE_BATCH = 100  # lines triaged at once (the engine is several times faster per post on a batch)


def score_lines(
    lines: Iterator[bytes], *, triager: Triager, context: TriageContext, out: TextIO, batch: int = SCORE_BATCH
) -> int:
    """Score JSONL lines to JSONL, one output line per non-blank input line, in order.
    Returns the error count. Lines are read `batch` at a time and triaged together; a
    bad line (not UTF-8, not JSON, a field of the wrong type) is answered in its place."""
    errors = 0
    encoding = getattr(out, "encoding", None) or "utf-8"
    # each pending entry: (line number, id, the post to score or the error for that line)
    pending: list[tuple[int, Any, Post | str]] = []

    def flush() -> None:
        posts = [entry for _, _, entry in pending if isinstance(entry, Post)]
        results = iter(triager.triage_many(posts, [context] * len(posts)))
        for number, ident, entry in pending:
            if isinstance(entry, str):
                out.write(
                    json_line({"id": ident, "line": number, "error": f"line {number}: {entry}"}, encoding=encoding)
                )
            else:
                out.write(json_line(_score_output(ident, next(results)), encoding=encoding))
        out.flush()
        pending.clear()

    for number, raw in enumerate(lines, start=1):
        ident, entry = parse_score_line(raw, number)
        if entry is None:
            continue  # a blank line: nothing to score, nothing to answer
        if isinstance(entry, str):
            errors += 1
        pending.append((number, ident, entry))
        if len(pending) >= batch:
            flush()
    flush()
    return errors


def _score_output(ident: Any, result: Triage) -> dict[str, Any]:
    return {
        "id": ident,
        "score": result.score,
        "needs_reply": result.needs_reply,
        "priority": result.priority,
        "sentiment": round(result.sentiment, 4),
        "sentiment_label": result.sentiment_label,
        "lang": result.lang,
        "intents": list(result.intents),
        "reasons": list(result.reasons),
    }


def _lines(source: BinaryIO) -> Iterator[bytes]:
    """The lines of a byte stream ending in LF, CRLF or a lone CR (old Mac files), as text
    mode would split them; a CR cannot occur inside a JSON line (strings escape it)."""
    for chunk in source:
        if b"\r" in chunk:
            yield from (piece + b"\n" for piece in chunk.splitlines())
        else:
            yield chunk


@cli.command()
@click.argument("source", type=click.File("rb"), default="-")
@pass_app
@friendly_errors
def score(app: AppContext, source: BinaryIO) -> None:
    """Score posts: JSONL in (FILE or - for stdin), JSONL out, one line per input line.

    Input lines need "id" and "text" and may carry "platform", "author", "created_at"
    and "lang_hint". A bad line (not UTF-8, not JSON, a field of the wrong type) gets an
    error line naming its number; the rest still go through, in order, and the exit
    code is 1 if any line failed. Blank lines are skipped.
    """
    if app.has_config():
        config = app.config()
        triager, context = Triager.from_config(config), TriageContext(brand=config.brand, thresholds=config.triage)
    else:  # no config: the shipped rules and model, every language the watcher knows
        triager, context = Triager(), TriageContext(brand=BrandConfig(name="brand", languages=ALL_LANGUAGES))
    # typed at a terminal: answer each line as it comes rather than a batch at a time
    batch = 1 if source.isatty() else SCORE_BATCH
    errors = score_lines(_lines(source), triager=triager, context=context, out=sys.stdout, batch=batch)
    if errors:
        err.print(f"{errors} line(s) could not be scored; see the error lines in the output")
        raise SystemExit(1)


# --- check ----------------------------------------------------------------------


def native_check_minutes(config: Config) -> int:
    """How often the Slack job looks for replies made natively (0: it does not run)."""
    return config.slack.native_reply_check_minutes if config.slack.enabled else 0


def request_budget(config: Config) -> tuple[list[BudgetRow], list[ConfigProblem]]:
    """Each kind's request budget lines and its over-budget problems. All sources go in,
    disabled ones too: the Slack job still checks their open items for native replies
    (each connector's `plan_budget` decides what it plans for them)."""
    minutes = native_check_minutes(config)
    rows: list[BudgetRow] = []
    problems: list[ConfigProblem] = []
    for kind in sorted({s.kind for s in config.sources}):
        cls = connector_class(kind)
        own = [s for s in config.sources if s.kind == kind]
        rows += cls.plan_budget(own, native_check_minutes=minutes)
        problems += cls.budget_problems(own, native_check_minutes=minutes)
    return rows, problems


@cli.command()
@pass_app
@friendly_errors
def check(app: AppContext) -> None:
    """Validate the config file, the environment variables it names, and the database."""
    from watcher.service import build_connector, build_connectors

    config = app.config()
    console = Console()
    problems = list(slack_env_problems(config, os.environ))
    try:
        build_connectors(config, os.environ)
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
                build_connector(source, os.environ)
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
    console.print(table)
    if problems:
        report_problems(problems)
    if not db_ok:
        raise SystemExit(EXIT_CONFIG)


# --- demo -------------------------------------------------------------------------


@cli.command()
@click.option("--duration", default=40.0, show_default=True, help="Seconds to replay the sample's three days in.")
@click.option("--fast", is_flag=True, help="No drip: ingest everything at once.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help="Keep the demo database at this path.")
@click.option("--show", default=15, show_default=True, help="Queue rows shown at the end.")
def demo(duration: float, fast: bool, db_path: str | None, show: int) -> None:
    """Offline demo, no credentials: drip the bundled sample posts through the whole
    pipeline into a temporary database and watch the ranked queue fill up."""
    from watcher.cli.demo import run_demo

    run_demo(duration=0.0 if fast else duration, db_path=Path(db_path) if db_path else None, show=show)


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


def _add_feature_commands() -> None:
    from watcher.cli.digest import digest
    from watcher.cli.rules import rules, train
    from watcher.cli.slack import slack

    for command in (train, rules, digest, slack):
        cli.add_command(command)


_add_feature_commands()
