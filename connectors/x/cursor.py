"""What an X cursor remembers and how a fetch splits the unread ids into spans: the
newest posts (the top) and the gaps a stopped fetch left, each read by later fetches
with since_id/until_id, so nothing between two polls is skipped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.x.mapping import Page, snowflake_time
from watcher.core.cursor import Cursor
from watcher.core.post import parse_timestamp

# recent search reaches back 7 days; stay a little inside so the request is never refused
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=5)
MAX_GAPS = 10
EARLIEST = datetime.min.replace(tzinfo=UTC)


def newer(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if int(a) >= int(b) else b


def older(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if int(a) <= int(b) else b


@dataclass(frozen=True)
class Span:
    """A range of ids still to read: newer than `since_id` (or created after
    `start_time` when no id is known yet) and, for a gap, older than `until_id`."""

    since_id: str | None = None
    start_time: datetime | None = None
    until_id: str | None = None

    def begins(self) -> datetime | None:
        """When the span starts: its since_id's time, else its start_time."""
        return snowflake_time(self.since_id) if self.since_id is not None else self.start_time

    def to_json(self) -> dict[str, str]:
        out = {}
        if self.since_id:
            out["since_id"] = self.since_id
        if self.start_time:
            out["start_time"] = self.start_time.isoformat()
        if self.until_id:
            out["until_id"] = self.until_id
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Span:
        start = data.get("start_time")
        return cls(
            since_id=str(data["since_id"]) if data.get("since_id") else None,
            start_time=parse_timestamp(start) if start else None,
            until_id=str(data["until_id"]) if data.get("until_id") else None,
        )


@dataclass(frozen=True)
class XState:
    """What a cursor remembers: the newest id stored, ranges not yet read, for
    conversations mode the brand's conversations being watched, and for recent search
    when the newest posts were last read (`checked_at`): everything before it was
    read, so only what came after can fall out of the 7-day window unread. The newest
    id cannot tell: a quiet search's newest post may be days older than its last read."""

    top: Span = field(default_factory=Span)
    gaps: tuple[Span, ...] = ()
    conversations: tuple[str, ...] = ()
    checked_at: datetime | None = None

    def to_cursor(self) -> Cursor:
        state: dict[str, Any] = self.top.to_json()
        if self.gaps:
            state["gaps"] = [g.to_json() for g in self.gaps]
        if self.conversations:
            state["conversations"] = list(self.conversations)
        if self.checked_at:
            state["checked_at"] = self.checked_at.isoformat()
        return Cursor(state)

    def moved_on(self, old: XState) -> bool:
        """Whether this state reads differently from `old` (a new read time alone does not)."""
        return replace(self, checked_at=old.checked_at) != old

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> XState | None:
        if cursor is None or not cursor.state:
            return None
        state = cursor.state
        return cls(
            top=Span.from_json(state),
            gaps=tuple(Span.from_json(g) for g in state.get("gaps", [])),
            conversations=tuple(str(c) for c in state.get("conversations", [])),
            checked_at=parse_timestamp(state["checked_at"]) if state.get("checked_at") else None,
        )


def merge_gaps(gaps: Sequence[Span], limit: int = MAX_GAPS) -> tuple[Span, ...]:
    """Keep at most `limit` gaps (newest first) by joining the oldest ones: a joined
    gap re-reads what lay between them (dedupe drops it), it never skips anything."""
    result = list(gaps)
    while len(result) > limit:
        older, newer = result[-1], result[-2]
        result[-2:] = [Span(since_id=older.since_id, start_time=older.start_time, until_id=newer.until_id)]
    return tuple(result)


@dataclass
class Run:
    """What one fetch collected so far."""

    tweets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    users: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    included: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    requests: int = 0
    stopped: bool = False
    failed: bool = False  # a request failed: asking again within this poll would fail too
    spent: bool = False  # a page left 0 requests: the next fetch raises RateLimited, sending nothing
    problems: list[str] = field(default_factory=list)
    # (from, to) ranges recent search can no longer reach; from is None when unknown
    lost: list[tuple[datetime | None, datetime]] = field(default_factory=list)

    def add(self, page: Page) -> None:
        self.requests += 1
        for tweet in page.tweets:  # parse_page let through only tweets with a valid id
            self.tweets[str(tweet["id"])] = tweet
        self.problems.extend(page.malformed)
        self.users.update(page.users)
        self.included.update(page.included_tweets)


@dataclass(frozen=True)
class SpanOutcome:
    newest: str | None
    gap: Span | None


@dataclass(frozen=True)
class TopRead:
    """The top after a fetch, the part of it left unread, and when it was last read."""

    span: Span
    gap: Span | None
    checked_at: datetime | None


def lost_problem(lost: Sequence[tuple[datetime | None, datetime]]) -> list[str]:
    """One line naming every range of a fetch that recent search could no longer
    reach (touching ranges joined; an unknown start counts as the earliest), or none."""
    if not lost:
        return []
    joined: list[tuple[datetime, datetime]] = []
    for start, end in sorted((start or EARLIEST, end) for start, end in lost):
        if joined and joined[-1][1] >= start:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    ranges = " and ".join(
        f"before {end:%Y-%m-%d %H:%M}" if start == EARLIEST else f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
        for start, end in joined
    )
    return [
        f"posts {ranges} UTC fell out of X's 7-day search window before they could be read (the watcher was "
        "stopped, rate limited or behind); they are not fetched"
    ]
