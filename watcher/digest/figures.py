"""Mention summaries and response-time reports: the figures of a digest.

Everything here is a pure function over rows the store returns (`store.reports`),
except `collect_digest`, which asks the store for those rows. Periods and their
windows are in windows.py.

First response time is measured from the post's own timestamp (what the customer
waits, including the watcher's polling delay) to the item's `first_response_at`
(the public reply, or the moment someone marked it answered elsewhere).
"""

from __future__ import annotations

import bisect
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import DEFAULT_SLA_MINUTES
from watcher.core.vocab import PRIORITY_RANK
from watcher.digest.incidents import IncidentFigures, incident_figures
from watcher.digest.ratings import Ratings, build_ratings
from watcher.digest.themes import Theme, find_themes
from watcher.digest.windows import Window
from watcher.store import Store

PRIORITIES = tuple(PRIORITY_RANK)
SENTIMENTS = ("negative", "neutral", "positive")
# First-response targets per priority; config [digest].sla_minutes overrides them.
SLA_DEFAULTS: Mapping[str, timedelta] = {p: timedelta(minutes=m) for p, m in DEFAULT_SLA_MINUTES.items()}
HANDLED_STATES = ("replied", "answered_elsewhere")


def sla_targets(overrides_minutes: Mapping[str, int] | None = None) -> dict[str, timedelta]:
    """The defaults with config overrides (minutes per priority) applied."""
    targets = dict(SLA_DEFAULTS)
    for priority, minutes in (overrides_minutes or {}).items():
        targets[priority] = timedelta(minutes=minutes)
    return targets


# --- volume and sentiment -----------------------------------------------------------


@dataclass(frozen=True)
class Change:
    name: str
    count: int
    previous: int

    @property
    def change_pct(self) -> float | None:
        """Percent change from the previous period; None when it had no posts."""
        return None if self.previous == 0 else 100.0 * (self.count - self.previous) / self.previous


@dataclass(frozen=True)
class Bucket:
    start: datetime  # UTC instant where the local hour or day starts
    label: str
    counts: Mapping[str, int]  # sentiment label -> posts ("" = not scored)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def negative_share(self) -> float | None:
        return self.counts.get("negative", 0) / self.total if self.total else None


@dataclass(frozen=True)
class Volume:
    total: int
    previous_total: int
    by_platform: tuple[Change, ...]
    by_source: tuple[Change, ...]
    sentiment: Mapping[str, int]
    previous_sentiment: Mapping[str, int]
    languages: tuple[tuple[str, int], ...]
    series: tuple[Bucket, ...]

    @property
    def change_pct(self) -> float | None:
        return Change("total", self.total, self.previous_total).change_pct

    def share(self, label: str, *, previous: bool = False) -> float | None:
        counts, total = (self.previous_sentiment, self.previous_total) if previous else (self.sentiment, self.total)
        return counts.get(label, 0) / total if total else None


def _changes(current: Counter[str], previous: Counter[str]) -> tuple[Change, ...]:
    names = set(current) | set(previous)
    ranked = sorted(names, key=lambda n: (-current[n], -previous[n], n))
    return tuple(Change(n, current[n], previous[n]) for n in ranked)


CountRow = tuple[str, str, str, str, str, str, int]  # quarter, sentiment, platform, source, lang, intents, posts


def quarter_start(quarter: str) -> datetime:
    """'2026-10-25T01:2' (the store's 15-minute bucket key) -> 2026-10-25 01:30 UTC."""
    return datetime.fromisoformat(quarter[:13]).replace(minute=15 * int(quarter[14:]), tzinfo=UTC)


def build_volume(window: Window, counts: Iterable[CountRow], previous_counts: Iterable[CountRow]) -> Volume:
    """Fold the store's quarter-hour counts into the window's local buckets and into
    totals per platform, source, sentiment and language, with the previous period's."""
    per_bucket: list[Counter[str]] = [Counter() for _ in window.buckets]
    platforms: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    sentiment: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    bucket_of: dict[str, int] = {}
    for quarter, label, platform, source, lang, _intents, count in counts:
        index = bucket_of.get(quarter)
        if index is None:
            index = bucket_of[quarter] = bisect.bisect_right(window.buckets, quarter_start(quarter)) - 1
        if 0 <= index < len(per_bucket):
            per_bucket[index][label] += count
        platforms[platform] += count
        sources[source or platform] += count
        sentiment[label] += count
        languages[lang or "unknown"] += count
    prev_platforms: Counter[str] = Counter()
    prev_sources: Counter[str] = Counter()
    prev_sentiment: Counter[str] = Counter()
    for _quarter, label, platform, source, _lang, _intents, count in previous_counts:
        prev_platforms[platform] += count
        prev_sources[source or platform] += count
        prev_sentiment[label] += count
    series = tuple(
        Bucket(start=b, label=window.bucket_label(i), counts=dict(per_bucket[i])) for i, b in enumerate(window.buckets)
    )
    return Volume(
        total=sum(platforms.values()),
        previous_total=sum(prev_platforms.values()),
        by_platform=_changes(platforms, prev_platforms),
        by_source=_changes(sources, prev_sources),
        sentiment=dict(sentiment),
        previous_sentiment=dict(prev_sentiment),
        languages=tuple(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        series=series,
    )


@dataclass(frozen=True)
class IntentCount:
    intent: str
    posts: int
    negative: int


def build_intents(counts: Iterable[CountRow], *, top: int = 10) -> tuple[IntentCount, ...]:
    """Posts per intent (a post with two intents counts for both), most first."""
    total: Counter[str] = Counter()
    negative: Counter[str] = Counter()
    parsed: dict[str, list[str]] = {}
    for _quarter, label, _platform, _source, _lang, intents, count in counts:
        if intents not in parsed:
            parsed[intents] = _intent_list(intents)
        for intent in parsed[intents]:
            total[intent] += count
            if label == "negative":
                negative[intent] += count
    ranked = sorted(total, key=lambda i: (-total[i], i))[:top]
    return tuple(IntentCount(i, total[i], negative[i]) for i in ranked)


def _intent_list(text: str) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return sorted({str(v) for v in value}) if isinstance(value, list) else []


def negative_by_language(counts: Iterable[CountRow]) -> dict[str, int]:
    result: Counter[str] = Counter()
    for _quarter, label, _platform, _source, lang, _intents, count in counts:
        if label == "negative":
            result[lang] += count
    return dict(result)


# --- response times -------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default): the median of
    [1, 2] is 1.5 and the p90 of [0, 10] is 9."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class ResponseStats:
    """One group of queue items (all, one priority or one agent)."""

    group: str
    items: int = 0
    handled: int = 0
    dismissed: int = 0
    escalated: int = 0
    open: int = 0
    response_seconds: tuple[float, ...] = ()
    within_sla: int = 0
    sla_due: int = 0  # answered items plus unanswered ones already past their target

    @property
    def responded(self) -> int:
        return len(self.response_seconds)

    @property
    def median_seconds(self) -> float | None:
        return percentile(self.response_seconds, 50)

    @property
    def p90_seconds(self) -> float | None:
        return percentile(self.response_seconds, 90)

    @property
    def sla_share(self) -> float | None:
        return self.within_sla / self.sla_due if self.sla_due else None


@dataclass(frozen=True)
class Responses:
    overall: ResponseStats
    by_priority: tuple[ResponseStats, ...]
    by_agent: tuple[ResponseStats, ...]
    sla_targets: Mapping[str, timedelta]

    @property
    def items(self) -> int:
        return self.overall.items


@dataclass
class _Tally:
    items: int = 0
    handled: int = 0
    dismissed: int = 0
    escalated: int = 0
    open: int = 0
    seconds: list[float] = field(default_factory=list)
    within: int = 0
    due: int = 0


def build_responses(
    rows: Iterable[Mapping[str, Any]], *, sla_targets: Mapping[str, timedelta], now: datetime
) -> Responses:
    """Response figures from the store's queue rows.

    An item counts toward the SLA share once it is due: answered (within target or
    not), or unanswered and older than its target. Dismissed items without a response
    need none and are left out; unanswered items still inside their target wait."""
    cells: defaultdict[tuple[str, str], _Tally] = defaultdict(_Tally)
    targets = {p: t.total_seconds() for p, t in {**SLA_DEFAULTS, **sla_targets}.items()}
    for row in rows:
        priority = row["priority"] or "normal"
        tally = cells[(priority, row["agent"] or "")]
        target = targets.get(priority) or targets["normal"]
        tally.items += 1
        state = row["state"]
        if state in HANDLED_STATES:
            tally.handled += 1
        elif state == "dismissed":
            tally.dismissed += 1
        else:
            tally.open += 1
        tally.escalated += int(bool(row["escalated"]))
        seconds = row["response_seconds"]
        if seconds is not None:
            seconds = max(0.0, float(seconds))
            tally.seconds.append(seconds)
            tally.due += 1
            tally.within += int(seconds <= target)
        elif state != "dismissed" and (now - datetime.fromisoformat(row["post_created_at"])).total_seconds() > target:
            tally.due += 1
    priorities = sorted({p for p, _a in cells}, key=_priority_rank)
    agents = sorted({a for _p, a in cells if a})
    by_agent = [_merge(a, [t for (_p, x), t in cells.items() if x == a]) for a in agents]
    return Responses(
        overall=_merge("all", list(cells.values())),
        by_priority=tuple(_merge(p, [t for (x, _a), t in cells.items() if x == p]) for p in priorities),
        by_agent=tuple(sorted(by_agent, key=lambda s: (-s.items, s.group))),
        sla_targets=dict(sla_targets),
    )


def _merge(group: str, tallies: Sequence[_Tally]) -> ResponseStats:
    return ResponseStats(
        group=group,
        items=sum(t.items for t in tallies),
        handled=sum(t.handled for t in tallies),
        dismissed=sum(t.dismissed for t in tallies),
        escalated=sum(t.escalated for t in tallies),
        open=sum(t.open for t in tallies),
        response_seconds=tuple(s for t in tallies for s in t.seconds),
        within_sla=sum(t.within for t in tallies),
        sla_due=sum(t.due for t in tallies),
    )


def _priority_rank(priority: str) -> tuple[int, str]:
    return (PRIORITY_RANK.get(priority, len(PRIORITY_RANK)), priority)


# --- the whole digest -------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    window: Window
    previous: Window
    volume: Volume
    intents: tuple[IntentCount, ...]
    themes: Mapping[str, tuple[Theme, ...]]  # language -> themes among its negative posts
    top_posts: tuple[Mapping[str, Any], ...]
    responses: Responses
    generated_at: datetime
    brand: str = ""
    ratings: Ratings | None = None  # review figures (app stores, Trustpilot)
    incidents: tuple[IncidentFigures, ...] = ()


def collect_digest(
    store: Store,
    window: Window,
    *,
    sla_targets: Mapping[str, timedelta],
    now: datetime,
    brand: str = "",
    brand_terms: Sequence[str] = (),
    top_posts: int = 10,
    theme_sample: int = 2000,
) -> Digest:
    """Ask the store for the window's rows and build every figure from them."""
    previous = window.previous()
    span = {"since": window.since, "until": window.until}
    counts = store.reports.digest_counts(**span)
    volume = build_volume(window, counts, store.reports.digest_counts(since=previous.since, until=previous.until))
    negative = store.reports.digest_negative_sample(
        **span, languages=negative_by_language(counts), per_language=theme_sample
    )
    return Digest(
        window=window,
        previous=previous,
        volume=volume,
        intents=build_intents(counts),
        themes=find_themes(negative, brand_terms=brand_terms),
        top_posts=tuple(store.reports.digest_top_posts(since=window.since, until=window.until, limit=top_posts)),
        responses=build_responses(store.reports.digest_response_rows(**span), sla_targets=sla_targets, now=now),
        generated_at=now,
        brand=brand,
        ratings=build_ratings(
            store.reports.digest_review_rows(**span),
            store.reports.digest_review_rows(since=previous.since, until=previous.until),
        ),
        incidents=incident_figures(store, since=window.since, until=window.until, now=now),
    )
