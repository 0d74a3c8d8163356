"""`watcher train` and `watcher rules test`: the team's side of the triage engine.

train: fit a needs-reply model on the team's own outcomes (the feedback table:
replied / escalated = needs a reply, dismissed as not relevant or spam = does not)
plus an optional labelled CSV, stacked on the shipped default; print its figures
on the newest 20% held back; write a versioned model file.

rules test: replay stored posts through a rules file and show what would change
(priorities, channels, suppressed, examples moved up and down). Read-only: the
queue and the stored scores are not touched.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.errors import fail, friendly_errors, load_config_or_exit, open_store_or_exit, report_problems
from watcher.core.config import ConfigError
from watcher.core.vocab import PRIORITY_RANK

if TYPE_CHECKING:  # `watcher --help` loads no SQLite layer
    from watcher.config import Config
    from watcher.store import Store

POSITIVE_LABELS = {"replied": 1.0, "escalated": 2.0}
# watcher/queue.py DISMISS_REASONS: these three say the post did not need a reply;
# "handled_elsewhere" says it did (elsewhere), so it is left out rather than guessed.
NEGATIVE_REASONS = {"not_relevant", "spam", "no_reply_needed"}
CSV_TRUE = {"1", "yes", "true", "needs_reply", "reply", "replied", "escalated"}
CSV_FALSE = {"0", "no", "false", "no_reply", "dismissed", "spam", "not_relevant"}
MIN_EXAMPLES = 20


class TrainingDataError(Exception):
    pass


@dataclass(frozen=True)
class Example:
    text: str
    label: int
    weight: float
    lang: str | None
    origin: str


def feedback_examples(rows: Sequence[dict[str, Any]]) -> tuple[list[Example], Counter[str]]:
    """Feedback rows -> labelled examples; the last label per post wins. Returns the
    examples and a count of labels that were skipped (e.g. dismissed:duplicate)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[row["post_key"]] = row
    examples: list[Example] = []
    skipped: Counter[str] = Counter()
    for row in latest.values():
        label = str(row["label"])
        if label in POSITIVE_LABELS:
            examples.append(Example(row["text"], 1, POSITIVE_LABELS[label], row.get("lang"), f"feedback {label}"))
        elif label.startswith("dismissed:") and label.split(":", 1)[1] in NEGATIVE_REASONS:
            examples.append(Example(row["text"], 0, 1.0, row.get("lang"), f"feedback {label}"))
        else:
            skipped[label] += 1
    return examples, skipped


def csv_examples(path: Path) -> list[Example]:
    """A CSV with columns text,label (1/0, yes/no, needs_reply/no_reply) and optional lang."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = set(reader.fieldnames or ())
            if not {"text", "label"} <= fields:
                raise TrainingDataError(f"{path}: needs a header with columns text and label (found {sorted(fields)})")
            examples = []
            for line, row in enumerate(reader, start=2):
                value = (row.get("label") or "").strip().casefold()
                if value in CSV_TRUE:
                    label = 1
                elif value in CSV_FALSE:
                    label = 0
                else:
                    raise TrainingDataError(
                        f"{path}: line {line}: label {row.get('label')!r} is not one of 1/0, yes/no, needs_reply/no_reply"
                    )
                text = (row.get("text") or "").strip()
                if text:
                    examples.append(Example(text, label, 1.0, (row.get("lang") or None), f"csv line {line}"))
            return examples
    except FileNotFoundError:
        raise TrainingDataError(f"{path}: file not found") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path}: not a readable UTF-8 CSV ({exc})") from None


def parse_since(value: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value)
    if not match:
        raise click.BadParameter(f"{value!r}: use a number and a unit, like 30m, 24h, 7d or 2w")
    n, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _open_store(config: Config) -> Store:
    return open_store_or_exit(config.resolve_path(config.storage.path))


config_option = click.option(
    "--config",
    "config_path",
    default="config.toml",
    envvar="WATCHER_CONFIG",
    show_default=True,
    help="Config file (TOML). Also read from $WATCHER_CONFIG.",
)


@click.command()
@config_option
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path), help="Extra labelled posts: columns text,label[,lang]."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Where to write the model (default: triage.model_path, or triage_model.npz beside the config).",
)
@click.option("--min-examples", default=MIN_EXAMPLES, show_default=True, help="Refuse to train on fewer examples.")
@friendly_errors
def train(config_path: str, csv_path: Path | None, out: Path | None, min_examples: int) -> None:
    """Retrain the needs-reply model from the team's outcomes (and a CSV).

    replied and escalated count as needs-a-reply (escalated twice as much);
    dismissed:not_relevant, dismissed:spam and dismissed:no_reply_needed as no-reply;
    other labels (e.g. dismissed:handled_elsewhere) are skipped.
    Prints AP, ROC-AUC and precision@50 on the newest 20% held back, then writes
    a model trained on everything. Enable it with triage.model_path.
    """
    from rules.engine import RuleSet
    from rules.fitting import fit_needs_reply
    from rules.model import save_models
    from rules.triage import Triager

    config = load_config_or_exit(config_path)
    store = _open_store(config)
    try:
        examples, skipped = feedback_examples(store.items.feedback_rows())
    finally:
        store.close()
    try:
        extra = csv_examples(csv_path) if csv_path else []
    except TrainingDataError as exc:
        fail("training data error", str(exc))
    click.echo(f"{len(examples)} examples from feedback, {len(extra)} from CSV")
    if skipped:
        click.echo("skipped labels: " + ", ".join(f"{k} x{v}" for k, v in sorted(skipped.items())))
    rows: list[dict[str, Any]] = [
        {"text": e.text, "label": e.label, "weight": e.weight, "lang": e.lang} for e in [*examples, *extra]
    ]
    labels = {e.label for e in [*examples, *extra]}
    if len(rows) < min_examples or labels != {0, 1}:
        fail(
            "not enough examples",
            f"need at least {min_examples} examples with both outcomes (have {len(rows)}, "
            f"labels {sorted(labels)}); keep replying and dismissing in Slack, or pass --csv",
            code=1,
        )
    triager = Triager(
        languages=config.brand.languages, language_floor=config.triage.language_confidence_floor, rules=RuleSet()
    )
    cut = int(round(len(rows) * 0.8))
    held = rows[cut:]
    if len({r["label"] for r in held}) < 2:
        click.echo("held-back part has only one outcome: figures are skipped for this run")
        held = []
    _, metrics = fit_needs_reply(
        triager, rows[:cut], held_back=held, label_key="label", stack_default=True, log=click.echo
    )
    model, _ = fit_needs_reply(triager, rows, label_key="label", stack_default=True, log=click.echo)
    target = out or (
        config.resolve_path(config.triage.model_path)
        if config.triage.model_path
        else Path(config.file).parent / "triage_model.npz"
    )
    meta = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": f"feedback table of {config.resolve_path(config.storage.path)}"
        + (f" + {csv_path}" if csv_path else ""),
        "examples": len(rows),
        "positives": sum(e.label for e in [*examples, *extra]),
        "metrics_newest_20pct": metrics,
        "stacked_on": "rules/data/needs_reply.npz",
    }
    save_models(target, {"default": model}, kind="needs_reply", meta=meta)
    click.echo(f"wrote {target}")
    if not config.triage.model_path:
        click.echo(f'enable it: set model_path = "{target}" under [triage] in {config.file}')


@click.group()
def rules() -> None:
    """Test triage rules files against stored history."""


@rules.command("test")
@config_option
@click.option(
    "--rules", "rules_path", type=click.Path(path_type=Path), help="Rules file to try (default: triage.rules_file)."
)
@click.option("--since", default="7d", show_default=True, help="How far back to replay: 30m, 24h, 7d, 2w.")
@click.option("--examples", default=5, show_default=True, help="Examples to show per direction.")
@friendly_errors
def test_rules(config_path: str, rules_path: Path | None, since: str, examples: int) -> None:
    """Replay stored posts through a rules file and print what would change.

    Compares the rules in use now (built-in + triage.rules_file) with built-in +
    --rules FILE, on the same posts and models; an author's earlier stored posts
    count as repeats (open cases are not replayed). Nothing is written.
    """
    from rules.rule_file import load_ruleset
    from rules.triage import TriageContext, Triager

    config = load_config_or_exit(config_path)
    window = parse_since(since)
    current_file = config.resolve_path(config.triage.rules_file) if config.triage.rules_file else None
    candidate_file = rules_path or current_file
    try:
        before_rules = load_ruleset(current_file)
        after_rules = load_ruleset(candidate_file)
    except ConfigError as exc:
        report_problems(exc.problems, kind="rules error")
    store = _open_store(config)
    try:
        now = datetime.now(UTC)
        repeat = timedelta(days=config.triage.repeat_window_days)
        # one repeat window further back too, so "writes again" sees an author's history
        history = store.posts.iter_posts(since=now - window - repeat)
    finally:
        store.close()
    posts = [p for p in history if p.created_at >= now - window]
    if not posts:
        click.echo(f"no stored posts in the last {since}; nothing to replay")
        return
    # the live setup (languages, floor, the team's model), so "now" ranks as the queue does
    triager = Triager.from_config(config)
    by_author: dict[str, list[datetime]] = {}
    for post in history:
        by_author.setdefault(post.author_key, []).append(post.created_at)
    contexts = [
        TriageContext(
            brand=config.brand,
            thresholds=config.triage,
            author_recent_posts=sum(
                post.created_at - repeat <= t < post.created_at for t in by_author[post.author_key]
            ),
            now=now,
        )
        for post in posts
    ]
    triager.rules = before_rules
    before = triager.triage_many(posts, contexts)
    triager.rules = after_rules
    after = triager.triage_many(posts, contexts)
    changes = list(zip(posts, before, after, strict=True))
    _report(
        changes,
        before_name=str(current_file or "built-in rules"),
        after_name=str(candidate_file or "built-in rules"),
        examples=examples,
    )


def _report(changes: list[tuple[Any, Any, Any]], *, before_name: str, after_name: str, examples: int) -> None:
    click.echo(f"replayed {len(changes)} stored posts: now = {before_name}, with = {after_name}")
    click.echo(f"{'':<14}{'now':>8}{'with':>8}{'change':>8}")

    def line(name: str, before: int, after: int) -> None:
        click.echo(f"{name:<14}{before:>8}{after:>8}{after - before:>+8}")

    for p in PRIORITY_RANK:
        line(p, sum(o.priority == p for _, o, _ in changes), sum(n.priority == p for _, _, n in changes))
    line("needs reply", sum(o.needs_reply for _, o, _ in changes), sum(n.needs_reply for _, _, n in changes))
    line("suppressed", sum(o.suppress for _, o, _ in changes), sum(n.suppress for _, _, n in changes))
    line("digest only", sum(o.digest_only for _, o, _ in changes), sum(n.digest_only for _, _, n in changes))
    channels = sorted({o.channel for _, o, _ in changes} | {n.channel for _, _, n in changes})
    click.echo("per channel:")
    for ch in channels:
        line(
            ch or "(default)", sum(o.channel == ch for _, o, _ in changes), sum(n.channel == ch for _, _, n in changes)
        )
    up = [
        c for c in changes if (PRIORITY_RANK[c[2].priority], -c[2].score) < (PRIORITY_RANK[c[1].priority], -c[1].score)
    ]
    down = [
        c for c in changes if (PRIORITY_RANK[c[2].priority], -c[2].score) > (PRIORITY_RANK[c[1].priority], -c[1].score)
    ]
    rerouted = [c for c in changes if c[1].channel != c[2].channel]
    for title, group in (("moved up", up), ("moved down", down), ("re-routed", rerouted)):
        click.echo(f"{title}: {len(group)}")
        group.sort(key=lambda c: -abs(c[2].score - c[1].score))
        for post, old, new in group[:examples]:
            fired = [r for r in new.rules_fired if r not in old.rules_fired] or [
                r for r in old.rules_fired if r not in new.rules_fired
            ]
            click.echo(
                f"  {post.key}: {old.priority} {old.score} -> {new.priority} {new.score}"
                + (f" -> {new.channel or '(default channel)'}" if new.channel != old.channel else "")
                + f"  [{', '.join(fired)}]  {post.text[:80]!r}"
            )
