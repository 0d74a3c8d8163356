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
import heapq
import re
from collections import Counter, deque
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
        triager: Triager | None = None  # built at the first post to replay (it loads the models)
        summary = ReplaySummary(examples)
        repeats = RepeatWindow(repeat)
        # one repeat window further back too, so "writes again" sees an author's history
        for page in store.posts.post_pages(since=now - window - repeat):
            counts = [repeats.count(post.author_key, post.created_at) for post in page]
            replayed = [(p, n) for p, n in zip(page, counts, strict=True) if p.created_at >= now - window]
            if not replayed:
                continue
            posts = [p for p, _ in replayed]
            contexts = [
                TriageContext(brand=config.brand, thresholds=config.triage, author_recent_posts=n, now=now)
                for _, n in replayed
            ]
            if triager is None:  # the live setup (languages, floor, the team's model), so "now" ranks as the queue does
                triager = Triager.from_config(config)
            before, after = triager.triage_many_each(posts, contexts, [before_rules, after_rules])
            for change in zip(posts, before, after, strict=True):
                summary.add(*change)
    finally:
        store.close()
    if not summary.replayed:
        click.echo(f"no stored posts in the last {since}; nothing to replay")
        return
    summary.report(
        before_name=str(current_file or "built-in rules"), after_name=str(candidate_file or "built-in rules")
    )


class RepeatWindow:
    """Each author's posts in [t - window, t), for posts fed in time order: a sliding
    count over the posts of the last window, whatever the length of the history."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.inside: deque[tuple[datetime, str]] = deque()  # (time, author), oldest first
        self.counts: Counter[str] = Counter()
        self.same_time: list[tuple[datetime, str]] = []  # posts at the current time: counted once it passes

    def count(self, author: str, at: datetime) -> int:
        if self.same_time and self.same_time[0][0] != at:
            self.inside.extend(self.same_time)
            self.counts.update(who for _, who in self.same_time)
            self.same_time = []
        while self.inside and self.inside[0][0] < at - self.window:
            _, who = self.inside.popleft()
            self.counts[who] -= 1
            if not self.counts[who]:
                del self.counts[who]
        self.same_time.append((at, author))
        return self.counts[author]


def _rank(triage: Any) -> tuple[int, int]:
    return PRIORITY_RANK[triage.priority], -triage.score


class ReplaySummary:
    """The figures of a replay, added up post by post, and the examples with the largest
    score change in each direction (the first met wins a tie): memory for the examples,
    not for every post replayed."""

    def __init__(self, examples: int) -> None:
        self.examples = examples
        self.replayed = 0
        self.counts: Counter[tuple[str, str]] = Counter()  # (figure, "now" or "with")
        self.channels: Counter[tuple[str, str]] = Counter()
        self.groups: dict[str, list[tuple[int, int, tuple[Any, Any, Any]]]] = {
            "moved up": [],
            "moved down": [],
            "re-routed": [],
        }
        self.sizes: Counter[str] = Counter()

    def add(self, post: Any, old: Any, new: Any) -> None:
        self.replayed += 1
        for side, triage in (("now", old), ("with", new)):
            self.counts[(triage.priority, side)] += 1
            self.counts[("needs reply", side)] += bool(triage.needs_reply)
            self.counts[("suppressed", side)] += bool(triage.suppress)
            self.counts[("digest only", side)] += bool(triage.digest_only)
            self.channels[(triage.channel, side)] += 1
        groups = []
        if _rank(new) < _rank(old):
            groups.append("moved up")
        elif _rank(new) > _rank(old):
            groups.append("moved down")
        if old.channel != new.channel:
            groups.append("re-routed")
        for name in groups:
            self.sizes[name] += 1
            heap = self.groups[name]
            # the smallest change, then the latest post, is the first to go
            heapq.heappush(heap, (abs(new.score - old.score), -self.replayed, (post, old, new)))
            if len(heap) > self.examples:
                heapq.heappop(heap)

    def report(self, *, before_name: str, after_name: str) -> None:
        click.echo(f"replayed {self.replayed} stored posts: now = {before_name}, with = {after_name}")
        click.echo(f"{'':<14}{'now':>8}{'with':>8}{'change':>8}")

        def line(name: str, before: int, after: int) -> None:
            click.echo(f"{name:<14}{before:>8}{after:>8}{after - before:>+8}")

        for figure in (*PRIORITY_RANK, "needs reply", "suppressed", "digest only"):
            line(figure, self.counts[(figure, "now")], self.counts[(figure, "with")])
        click.echo("per channel:")
        for ch in sorted({channel for channel, _ in self.channels}):
            line(ch or "(default)", self.channels[(ch, "now")], self.channels[(ch, "with")])
        for title, heap in self.groups.items():
            click.echo(f"{title}: {self.sizes[title]}")
            for _, _, (post, old, new) in sorted(heap, key=lambda e: (-e[0], -e[1])):
                fired = [r for r in new.rules_fired if r not in old.rules_fired] or [
                    r for r in old.rules_fired if r not in new.rules_fired
                ]
                click.echo(
                    f"  {post.key}: {old.priority} {old.score} -> {new.priority} {new.score}"
                    + (f" -> {new.channel or '(default channel)'}" if new.channel != old.channel else "")
                    + f"  [{', '.join(fired)}]  {post.text[:80]!r}"
                )
