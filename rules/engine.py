"""Rules a team writes in TOML: conditions -> actions, validated at load.

    [[rules]]
    name = "lawyer mentions to legal"
    all = { intent = ["legal"], language = ["en", "it"] }
    any = { keywords = ["lawyer", "avvocato"], followers = { min = 1000 } }
    none = { platform = ["reddit"] }
    then = { boost = 20, priority = "urgent", channel = "#care-legal", tag = ["legal"] }

A rule fires when every key of `all` holds, at least one key of `any` holds (if
given) and no key of `none` holds. Rules run in file order, built-in rules
(rules/builtin_rules.toml, written the same way) first, so a team's file can
override them or switch them off with `disable_builtin = ["name", ...]`.
Every problem in a file is reported at once as a ConfigError (file, rule, key,
reason), in the same style as config.toml.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rules.intents import INTENTS, bit_mask
from rules.model import strip_accents
from watcher.config import ConfigError, ConfigProblem, read_toml
from watcher.config import _unknown as unknown_key

BUILTIN_RULES_FILE = Path(__file__).resolve().parent / "builtin_rules.toml"
PRIORITIES = ("urgent", "high", "normal", "low")
AUTHOR_LISTS = ("vip", "staff", "competitor")
LIST_KEYS = ("keywords", "language", "platform", "source", "kind", "intent", "author_list", "tag")
RANGE_KEYS = ("sentiment", "followers", "engagement", "score", "repeat", "open_items", "words")
BOOL_KEYS = ("verified", "mentions_competitor", "sarcasm")
CONDITION_KEYS = (*LIST_KEYS, "regex", *RANGE_KEYS, *BOOL_KEYS)
ACTION_KEYS = (
    "boost",
    "priority",
    "min_priority",
    "channel",
    "tag",
    "suppress",
    "digest_only",
    "needs_reply",
    "allow_urgent",
    "reason",
)
RULE_KEYS = ("name", "description", "enabled", "all", "any", "none", "then")


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None


# built for every post: plain slots, as a frozen dataclass pays a setattr call per field
@dataclass(slots=True)
class Facts:
    """What a rule can look at: the post's signals and its context, all precomputed."""

    text: str
    norm: str
    lang: str
    platform: str
    source: str
    kind: str
    sentiment: float
    intents: frozenset[str]
    followers: int
    verified: bool
    engagement: int
    repeat: int
    open_items: int
    tokens: tuple[str, ...] = ()
    author_lists: frozenset[str] = frozenset()
    mentions_competitor: bool = False
    sarcasm: bool = False

    @property
    def words(self) -> int:
        """Words in the post (punctuation and emoji tokens not counted); counted only when a rule asks."""
        return count_words(self.tokens)


def count_words(tokens: Sequence[str]) -> int:
    """Words among a post's tokens: punctuation and emoji tokens do not count."""
    return sum(1 for t in tokens if t[0].isalnum())


STRING_COLUMNS = ("lang", "platform", "source", "kind")
TEXT_COLUMNS = ("text", "norm", "tokens")  # plain lists: only the rows a rule asks about are read


class FactsBatch:
    """The facts of a batch of posts, column by column (each built on first use).

    Rules ask which posts still in question hold a condition. A set of posts ("rows") is
    a Python int with bit r for row r: for a page of a hundred posts, intersecting such
    sets costs far less than a numpy call, and the row sets a condition needs (posts with
    an intent, in a language, with a flag, in a range) are worked out once per batch.

    Columns: "intents" and "author_lists" as bit masks (int64), the STRING_COLUMNS case-folded
    (object arrays), the TEXT_COLUMNS as lists, every other Facts field as float64. This class
    reads them from Facts objects; rules/triage.py builds them straight from posts and signals."""

    def __init__(self, facts: Sequence[Facts] = (), *, size: int | None = None) -> None:
        self.facts = facts
        self.size = len(facts) if size is None else size
        self.all_rows = (1 << self.size) - 1
        self._columns: dict[str, Any] = {}
        self._row_sets: dict[tuple[str, Any], Any] = {}

    def __len__(self) -> int:
        return self.size

    def column(self, name: str) -> Any:
        found = self._columns.get(name)
        if found is None:
            found = self._columns[name] = self.build(name)
        return found

    def build(self, name: str) -> Any:
        """Column `name` for every post in the batch."""
        facts = self.facts
        if name == "intents":
            return np.fromiter((bit_mask(f.intents) for f in facts), np.int64, len(facts))
        if name == "author_lists":
            return np.fromiter((bit_mask(f.author_lists, AUTHOR_LISTS) for f in facts), np.int64, len(facts))
        if name in STRING_COLUMNS:
            return np.asarray([str(getattr(f, name)).casefold() for f in facts], dtype=object)
        if name in TEXT_COLUMNS:
            return [getattr(f, name) for f in facts]
        return np.fromiter((float(getattr(f, name)) for f in facts), np.float64, len(facts))

    def rows_by_value(self, name: str) -> dict[Any, int]:
        """For a bit-mask column, each bit -> the rows with it; for a string column, each
        value -> the rows with it."""
        key = ("values", name)
        found = self._row_sets.get(key)
        if found is None:
            found = {}
            for r, value in enumerate(self.column(name).tolist()):
                if name in BIT_COLUMNS:
                    while value:
                        bit = value & -value
                        found[bit] = found.get(bit, 0) | 1 << r
                        value ^= bit
                else:
                    found[value] = found.get(value, 0) | 1 << r
            self._row_sets[key] = found
        return found

    def rows_where(self, name: str, low: float, high: float) -> int:
        """The rows whose numeric column `name` is within [low, high]."""
        key = ("range", (name, low, high))
        found: int | None = self._row_sets.get(key)
        if found is None:
            values = self.column(name)
            found = self._row_sets[key] = row_set((values >= low) & (values <= high))
        return found


BIT_COLUMNS = ("intents", "author_lists")


def row_set(hold: np.ndarray) -> int:
    """The rows where a boolean array is true, as a row set (bit r for row r)."""
    return int.from_bytes(np.packbits(hold, bitorder="little").tobytes(), "little")


def row_list(rows: int) -> list[int]:
    """The rows of a row set, in order."""
    return [r for r, bit in enumerate(bin(rows)[:1:-1]) if bit == "1"]


# (facts, rows still in question, running scores, running tags) -> those of the rows that hold
Predicate = Callable[[FactsBatch, int, np.ndarray, Sequence[Sequence[str]]], int]


@dataclass(frozen=True)
class Conditions:
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    regex: re.Pattern[str] | None = None
    ranges: Mapping[str, Range] = field(default_factory=dict)
    flags: Mapping[str, bool] = field(default_factory=dict)
    keyword_re: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        # each key turned into one small function once
        object.__setattr__(self, "_predicates", tuple(self._build()))

    def _build(self) -> Iterator[Predicate]:
        for key, values in self.lists.items():
            yield _list_predicate(key, frozenset(values), self.keyword_re)
        if self.regex is not None:
            yield _regex_predicate(self.regex)
        for key, rng in self.ranges.items():
            yield _range_predicate(key, rng)
        for key, flag in self.flags.items():
            yield _flag_predicate(key, flag)

    def all_hold(self, facts: FactsBatch, rows: int, score: np.ndarray, tags: Sequence[Sequence[str]]) -> int:
        """Those of `rows` for which every key holds (later keys are only asked of the rows left)."""
        for predicate in self._predicates:  # type: ignore[attr-defined]
            if not rows:
                break
            rows = predicate(facts, rows, score, tags)
        return rows

    def any_holds(self, facts: FactsBatch, rows: int, score: np.ndarray, tags: Sequence[Sequence[str]]) -> int:
        """Those of `rows` for which at least one key holds."""
        hold = 0
        for predicate in self._predicates:  # type: ignore[attr-defined]
            left = rows & ~hold
            if not left:
                break
            hold |= predicate(facts, left, score, tags)
        return hold

    @property
    def empty(self) -> bool:
        return not (self.lists or self.regex or self.ranges or self.flags)


def _list_predicate(key: str, wanted: frozenset[str], keyword_re: re.Pattern[str] | None) -> Predicate:
    if key == "keywords":
        assert keyword_re is not None
        search = keyword_re.search

        def keywords(f: FactsBatch, rows: int, s: np.ndarray, t: Sequence[Sequence[str]]) -> int:
            norm, text = f.column("norm"), f.column("text")
            return _rows_holding(rows, lambda r: bool(search(norm[r]) or search(text[r].casefold())))

        return keywords
    if key == "tag":
        return lambda f, rows, s, t: _rows_holding(rows, lambda r: any(tag in wanted for tag in t[r]))
    if key in ("intent", "author_list"):
        column, mask = (
            ("intents", bit_mask(wanted)) if key == "intent" else ("author_lists", bit_mask(wanted, AUTHOR_LISTS))
        )
        values: tuple[Any, ...] = tuple(1 << i for i in range(mask.bit_length()) if mask >> i & 1)
    else:
        column, values = ("lang" if key == "language" else key), tuple(wanted)

    def holds(f: FactsBatch, rows: int, s: np.ndarray, t: Sequence[Sequence[str]]) -> int:
        by_value = f.rows_by_value(column)
        found = 0
        for value in values:
            found |= by_value.get(value, 0)
        return rows & found

    return holds


def _rows_holding(rows: int, test: Callable[[int], bool]) -> int:
    """Those of `rows` that pass a per-post test (for what has to be read post by post)."""
    found = 0
    for r in row_list(rows):
        if test(r):
            found |= 1 << r
    return found


def _regex_predicate(regex: re.Pattern[str]) -> Predicate:
    search = regex.search

    def holds(f: FactsBatch, rows: int, s: np.ndarray, t: Sequence[Sequence[str]]) -> int:
        text = f.column("text")
        return _rows_holding(rows, lambda r: bool(search(text[r])))

    return holds


def _range_predicate(key: str, rng: Range) -> Predicate:
    low = -np.inf if rng.low is None else rng.low
    high = np.inf if rng.high is None else rng.high

    def holds(f: FactsBatch, rows: int, s: np.ndarray, t: Sequence[Sequence[str]]) -> int:
        if key == "score":  # the running score: changes as rules fire
            return rows & row_set((s >= low) & (s <= high))
        if key == "words":  # costly to count, so only for the rows still in question
            tokens = f.column("tokens")
            return _rows_holding(rows, lambda r: low <= count_words(tokens[r]) <= high)
        return rows & f.rows_where(key, low, high)

    return holds


def _flag_predicate(key: str, flag: bool) -> Predicate:
    def holds(f: FactsBatch, rows: int, s: np.ndarray, t: Sequence[Sequence[str]]) -> int:
        zero = f.rows_where(key, 0.0, 0.0)
        return rows & ~zero if flag else rows & zero

    return holds


@dataclass(frozen=True)
class Actions:
    boost: int = 0
    priority: str = ""
    min_priority: str = ""
    channel: str = ""
    tags: tuple[str, ...] = ()
    suppress: bool = False
    digest_only: bool = False
    needs_reply: bool | None = None
    allow_urgent: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Rule:
    name: str
    then: Actions
    all: Conditions = field(default_factory=Conditions)
    any: Conditions = field(default_factory=Conditions)
    none: Conditions = field(default_factory=Conditions)
    description: str = ""
    file: str = ""

    def matching(self, facts: FactsBatch, score: np.ndarray, tags: Sequence[Sequence[str]], rows: int) -> int:
        """Those of `rows` (a row set over the batch) this rule fires on, given the running scores and tags."""
        rows = self.all.all_hold(facts, rows, score, tags)
        if rows and not self.any.empty:
            rows = self.any.any_holds(facts, rows, score, tags)
        if rows and not self.none.empty:
            rows &= ~self.none.any_holds(facts, rows, score, tags)
        return rows

    @property
    def reason(self) -> str:
        """What the rule's firing adds to a post's reasons."""
        reason = self.then.reason or f"rule '{self.name}'"
        return reason + f" ({self.then.boost:+d})" if self.then.boost else reason


@dataclass
class Outcome:
    """The running result while rules apply; Triager turns it into a Triage."""

    score: float
    priority: str = ""
    channel: str = ""
    tags: list[str] = field(default_factory=list)
    suppress: bool = False
    digest_only: bool = False
    needs_reply: bool | None = None
    allow_urgent: bool = False
    reasons: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def act(self, rule: Rule, reason: str) -> None:
        """Everything but the score that `rule` firing does to this post."""
        act = rule.then
        self.fired.append(rule.name)
        if act.priority:
            self.priority = act.priority
        self.channel = act.channel or self.channel
        self.tags.extend(t for t in act.tags if t not in self.tags)
        self.suppress = self.suppress or act.suppress
        self.digest_only = self.digest_only or act.digest_only
        if act.needs_reply is not None:
            self.needs_reply = act.needs_reply
        self.allow_urgent = self.allow_urgent or act.allow_urgent or "urgent" in (act.priority, act.min_priority)
        self.reasons.append(reason)


# one per distinct set of fired rules, shared by every post that fired exactly those
@dataclass(frozen=True, slots=True)
class Effect:
    """What a run of fired rules, in order, does to a post besides its score: the same
    for every post that fired the same rules, so worked out once (`RuleSet.effect`)."""

    fired: tuple[str, ...]
    reasons: tuple[str, ...]
    tags: tuple[str, ...]
    priority: str
    channel: str
    suppress: bool
    digest_only: bool
    needs_reply: bool | None
    allow_urgent: bool


EFFECTS_KEPT = 4096  # distinct fired-rule runs remembered per rule set


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    files: tuple[str, ...] = ()
    _effects: dict[tuple[int, ...], Effect] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @functools.cached_property
    def reads_tags(self) -> bool:
        """Whether a rule looks at the tags earlier rules gave."""
        return any("tag" in c.lists for rule in self.rules for c in (rule.all, rule.any, rule.none))

    def apply_many(
        self, facts: Sequence[Facts], outcomes: Sequence[Outcome], *, band_floor: Mapping[str, int]
    ) -> Sequence[Outcome]:
        """Run every matching rule in order, each over the whole batch at once. Boosts
        alone stop below the urgent band: only a rule that says priority/min_priority =
        "urgent" or allow_urgent = true (repeat writers, large reach, VIPs) can lift a
        post into it."""
        score = np.fromiter((o.score for o in outcomes), dtype=np.float64, count=len(outcomes))
        for k, rows in self.fire(FactsBatch(facts), score, [o.tags for o in outcomes], band_floor=band_floor):
            rule = self.rules[k]
            reason = rule.reason
            for r in rows:
                outcomes[r].act(rule, reason)
        for outcome, value in zip(outcomes, score.tolist(), strict=True):
            outcome.score = value
            if not outcome.allow_urgent and outcome.priority != "urgent":
                outcome.score = min(outcome.score, band_floor["urgent"] - 1)
        return outcomes

    def fire(
        self,
        facts: FactsBatch,
        score: np.ndarray,
        tags: Sequence[Sequence[str]],
        *,
        band_floor: Mapping[str, int],
        rows: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, list[int]]]:
        """Each rule that fires, in order, as (its index, the rows it fires on), over all
        posts or the given `rows`. `score` is updated in place as each rule fires (boost,
        priority band, minimum priority); the urgent cap is left to the caller. Before the
        next rule is asked, the caller applies the rest of the rule to its posts: `tags`
        (running tags per row) must then include the rule's tags."""
        start = facts.all_rows if rows is None else sum(1 << r for r in rows)
        for k, rule in enumerate(self.rules):
            found = rule.matching(facts, score, tags, start)
            if not found:
                continue
            fired = row_list(found)
            act = rule.then
            if act.boost or act.priority or act.min_priority:
                hit = np.asarray(fired)
                values = score[hit]
                if act.boost:
                    values += act.boost
                if act.priority:
                    floor = band_floor[act.priority]
                    ceiling = min((band_floor[p] for p in PRIORITIES if band_floor[p] > floor), default=101) - 1
                    values = np.clip(values, floor, ceiling)
                if act.min_priority:
                    values = np.maximum(values, band_floor[act.min_priority])
                score[hit] = values
            yield k, fired

    def effect(self, fired: tuple[int, ...]) -> Effect:
        """What firing these rules (indices into `rules`, in order) does to a fresh post."""
        found = self._effects.get(fired)
        if found is None:
            outcome = Outcome(score=0.0)
            for k in fired:
                outcome.act(self.rules[k], self.rules[k].reason)
            found = Effect(
                fired=tuple(outcome.fired),
                reasons=tuple(outcome.reasons),
                tags=tuple(outcome.tags),
                priority=outcome.priority,
                channel=outcome.channel,
                suppress=outcome.suppress,
                digest_only=outcome.digest_only,
                needs_reply=outcome.needs_reply,
                allow_urgent=outcome.allow_urgent,
            )
            if len(self._effects) >= EFFECTS_KEPT:
                self._effects.clear()
            self._effects[fired] = found
        return found


def load_rule_file(path: str | Path) -> tuple[list[Rule], tuple[str, ...]]:
    """Parse one rules file; return its rules and the built-in names it disables."""
    data = read_toml(path, missing="rules file not found; fix triage.rules_file")
    return parse_rules(data, file=str(path))


def load_ruleset(rules_file: str | Path | None = None, *, builtin: bool = True) -> RuleSet:
    """Built-in rules, minus the ones the team's file disables, then the team's rules."""
    rules: list[Rule] = []
    files: list[str] = []
    custom: list[Rule] = []
    disabled: tuple[str, ...] = ()
    if rules_file:
        custom, disabled = load_rule_file(rules_file)
    if builtin:
        base, _ = load_rule_file(BUILTIN_RULES_FILE)
        known = {r.name for r in base}
        unknown = [n for n in disabled if n not in known]
        if unknown:
            raise ConfigError(
                [
                    ConfigProblem(
                        str(rules_file),
                        "disable_builtin",
                        f"no built-in rule named {n!r}; known: {', '.join(sorted(known))}",
                    )
                    for n in unknown
                ]
            )
        rules.extend(r for r in base if r.name not in disabled)
        files.append(str(BUILTIN_RULES_FILE))
    rules.extend(custom)
    if rules_file:
        files.append(str(rules_file))
    return RuleSet(tuple(rules), tuple(files))


def parse_rules(data: Mapping[str, Any], *, file: str) -> tuple[list[Rule], tuple[str, ...]]:
    problems: list[ConfigProblem] = []
    for key in data:
        if key not in ("rules", "disable_builtin"):
            problems.append(
                ConfigProblem(file, key, 'unknown top-level key; use [[rules]] tables and "disable_builtin"')
            )
    disabled = data.get("disable_builtin", [])
    if not isinstance(disabled, list) or not all(isinstance(n, str) for n in disabled):
        problems.append(ConfigProblem(file, "disable_builtin", 'expected a list of rule names like ["spam"]'))
        disabled = []
    table = data.get("rules", [])
    if not isinstance(table, list):
        problems.append(ConfigProblem(file, "rules", "write each rule as a [[rules]] table"))
        table = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(table, start=1):
        rule = _parse_rule(raw, i, file, problems, seen)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise ConfigError(problems)
    return rules, tuple(disabled)


def _parse_rule(raw: Any, i: int, file: str, problems: list[ConfigProblem], seen: set[str]) -> Rule | None:
    start = len(problems)
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, f"rules[{i}]", "must be a table"))
        return None
    name = raw.get("name")
    where = f"rules[{i}]" + (f" ({name!r})" if isinstance(name, str) and name else "")
    if not isinstance(name, str) or not name.strip():
        problems.append(ConfigProblem(file, f"{where}.name", 'missing; give every rule a name = "..."'))
        name = f"rule {i}"
    elif name in seen:
        problems.append(ConfigProblem(file, f"{where}.name", "duplicate rule name; names must be unique"))
    seen.add(name)
    for key in raw:
        if key not in RULE_KEYS:
            problems.append(ConfigProblem(file, f"{where}.{key}", unknown_key(key, list(RULE_KEYS), "key")))
    if raw.get("enabled", True) is False:
        return None
    blocks = {k: _parse_conditions(raw.get(k, {}), file, f"{where}.{k}", problems) for k in ("all", "any", "none")}
    if all(b.empty for b in blocks.values()) and len(problems) == start:
        problems.append(ConfigProblem(file, where, "has no conditions; add all = {...}, any = {...} or none = {...}"))
    if "then" not in raw:
        problems.append(
            ConfigProblem(file, f"{where}.then", "missing; say what the rule does, e.g. then = { boost = 10 }")
        )
    then = _parse_actions(raw.get("then", {}), file, f"{where}.then", problems)
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(ConfigProblem(file, f"{where}.description", "expected a string"))
    if len(problems) > start:
        return None
    return Rule(name=name, then=then, description=str(description), file=file, **blocks)


def _parse_conditions(raw: Any, file: str, where: str, problems: list[ConfigProblem]) -> Conditions:
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, where, 'expected a table like { intent = ["legal"] }'))
        return Conditions()
    lists: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, Range] = {}
    flags: dict[str, bool] = {}
    regex = keyword_re = None
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key in LIST_KEYS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
                problems.append(ConfigProblem(file, at, 'expected a non-empty list of strings like ["a", "b"]'))
                continue
            values = tuple(v.casefold() for v in items)
            allowed = {"intent": INTENTS, "author_list": AUTHOR_LISTS}.get(key)
            for v in values:
                if allowed is not None and v not in allowed:
                    problems.append(ConfigProblem(file, at, f"{v!r} is not one of {', '.join(allowed)}"))
            if key == "language":
                for v in values:
                    if v != "unknown" and (len(v) != 2 or not v.isalpha()):
                        problems.append(
                            ConfigProblem(file, at, f'{v!r} is not a two-letter language code like "en" (or "unknown")')
                        )
            lists[key] = values
            if key == "keywords":
                # each keyword as written and without its accents: the post's normalized
                # text has none, so "perché" must also be looked for as "perche"
                forms = {form for v in values for form in (v, strip_accents(v))}
                keyword_re = re.compile(
                    r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(forms, key=len, reverse=True)) + r")(?!\w)"
                )
        elif key == "regex":
            if not isinstance(value, str) or not value:
                problems.append(ConfigProblem(file, at, "expected a regular expression string"))
                continue
            try:
                regex = re.compile(value, re.IGNORECASE)
            except re.error as exc:
                problems.append(ConfigProblem(file, at, f"invalid regular expression: {exc}"))
        elif key in RANGE_KEYS:
            rng = _parse_range(value, file, at, problems)
            if rng is not None:
                if key == "sentiment" and any(v is not None and not -1 <= v <= 1 for v in (rng.low, rng.high)):
                    problems.append(ConfigProblem(file, at, "sentiment bounds must be between -1 and 1"))
                ranges[key] = rng
        elif key in BOOL_KEYS:
            if not isinstance(value, bool):
                problems.append(ConfigProblem(file, at, "expected true or false"))
                continue
            flags[key] = value
        else:
            problems.append(ConfigProblem(file, at, unknown_key(key, list(CONDITION_KEYS), "condition")))
    return Conditions(lists=lists, regex=regex, ranges=ranges, flags=flags, keyword_re=keyword_re)


def _parse_range(value: Any, file: str, at: str, problems: list[ConfigProblem]) -> Range | None:
    if not isinstance(value, Mapping) or not value or set(value) - {"min", "max"}:
        problems.append(ConfigProblem(file, at, "expected a range like { min = 0.5 } or { min = 1, max = 10 }"))
        return None
    bounds: dict[str, float] = {}
    for key in ("min", "max"):
        if key in value:
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                problems.append(ConfigProblem(file, f"{at}.{key}", f"expected a number, got {v!r}"))
                return None
            bounds[key] = float(v)
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        problems.append(ConfigProblem(file, at, "min is greater than max; nothing can match"))
        return None
    return Range(bounds.get("min"), bounds.get("max"))


def _parse_actions(raw: Any, file: str, where: str, problems: list[ConfigProblem]) -> Actions:
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, where, "expected a table like { boost = 10 }"))
        return Actions()
    start = len(problems)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key == "boost":
            if isinstance(value, bool) or not isinstance(value, int) or not -100 <= value <= 100:
                problems.append(ConfigProblem(file, at, "expected a whole number from -100 to 100 (negative lowers)"))
            else:
                values["boost"] = value
        elif key in ("priority", "min_priority"):
            if value not in PRIORITIES:
                problems.append(ConfigProblem(file, at, f"{value!r} is not one of {', '.join(PRIORITIES)}"))
            else:
                values[key] = value
        elif key in ("channel", "reason"):
            if not isinstance(value, str) or not value:
                problems.append(ConfigProblem(file, at, "expected a non-empty string"))
            elif key == "channel" and not re.fullmatch(r"#?[a-z0-9][a-z0-9_\-]{0,79}|[CG][A-Z0-9]{6,}", value):
                problems.append(
                    ConfigProblem(
                        file, at, f'{value!r} is not a Slack channel name like "#care-urgent" or an id like "C0123ABCD"'
                    )
                )
            else:
                values[key] = value
        elif key == "tag":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
                problems.append(ConfigProblem(file, at, 'expected a tag or a list of tags like ["legal"]'))
            else:
                values["tags"] = tuple(items)
        elif key in ("suppress", "digest_only", "needs_reply", "allow_urgent"):
            if not isinstance(value, bool):
                problems.append(ConfigProblem(file, at, "expected true or false"))
            else:
                values[key] = value
        else:
            problems.append(ConfigProblem(file, at, unknown_key(key, list(ACTION_KEYS), "action")))
    if not raw and len(problems) == start:
        problems.append(ConfigProblem(file, where, f"no action; use one of {', '.join(ACTION_KEYS)}"))
    return Actions(**values)
