"""Rules evaluated over a batch of posts: each condition one pass over the posts still
in question, each fired rule's effect worked out once. The rules come from TOML files
(rules/rule_file.py); the facts they read come from the triage engine (rules/triage.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rules.intents import bit_mask
from rules.scores import MODEL_HEADROOM, Scores
from watcher.core.vocab import PRIORITIES

AUTHOR_LISTS = ("vip", "staff", "competitor")
LIST_KEYS = ("keywords", "language", "platform", "source", "kind", "intent", "author_list", "tag")
RANGE_KEYS = ("sentiment", "followers", "engagement", "score", "repeat", "open_items", "words", "rating", "rating_drop")
BOOL_KEYS = ("verified", "mentions_competitor", "sarcasm")
CONDITION_KEYS = (*LIST_KEYS, "regex", *RANGE_KEYS, *BOOL_KEYS)


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
    rating: int = 0  # a review's stars (1-5); 0 for a post that is not a review
    rating_drop: int = 0  # stars the customer took away when editing the review

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
        # `wanted` is case-folded, as every list condition is; a rule's tag action keeps the case it was written in
        return lambda f, rows, s, t: _rows_holding(rows, lambda r: any(tag.casefold() in wanted for tag in t[r]))
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
        self,
        facts: Sequence[Facts],
        outcomes: Sequence[Outcome],
        probabilities: Sequence[float],
        *,
        band_floor: Mapping[str, int],
    ) -> Sequence[Outcome]:
        """Run every matching rule in order, each over the whole batch at once, from the
        model's probability per post. Boosts alone stop below the urgent band: only a rule
        that says priority/min_priority = "urgent" or allow_urgent = true (repeat writers,
        large reach, VIPs) can lift a post into it."""
        top = np.full(len(outcomes), float(band_floor["urgent"] - MODEL_HEADROOM))
        scores = Scores(np.asarray(probabilities, dtype=np.float64), top)
        for k, rows in self.fire(FactsBatch(facts), scores, [o.tags for o in outcomes], band_floor=band_floor):
            rule = self.rules[k]
            reason = rule.reason
            for r in rows:
                outcomes[r].act(rule, reason)
        for outcome, value in zip(outcomes, scores.points.tolist(), strict=True):
            outcome.score = value
            if not outcome.allow_urgent and outcome.priority != "urgent":
                outcome.score = min(outcome.score, band_floor["urgent"] - 1)
        return outcomes

    def fire(
        self,
        facts: FactsBatch,
        scores: Scores,
        tags: Sequence[Sequence[str]],
        *,
        band_floor: Mapping[str, int],
        rows: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, list[int]]]:
        """Each rule that fires, in order, as (its index, the rows it fires on), over all
        posts or the given `rows`. `scores` is updated in place as each rule fires (boost,
        priority band, minimum priority); the urgent cap is left to the caller. Before the
        next rule is asked, the caller applies the rest of the rule to its posts: `tags`
        (running tags per row) must then include the rule's tags."""
        start = facts.all_rows if rows is None else sum(1 << r for r in rows)
        for k, rule in enumerate(self.rules):
            found = rule.matching(facts, scores.points, tags, start)
            if not found:
                continue
            fired = row_list(found)
            act = rule.then
            if act.boost or act.priority or act.min_priority:
                hit = np.asarray(fired)
                if act.boost:
                    scores.boost(hit, act.boost, context=act.allow_urgent)
                if act.priority:
                    floor = band_floor[act.priority]
                    ceiling = min((band_floor[p] for p in PRIORITIES if band_floor[p] > floor), default=101) - 1
                    scores.place(hit, floor, ceiling)
                if act.min_priority:
                    scores.at_least(hit, band_floor[act.min_priority])
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
