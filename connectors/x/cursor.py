"""What an X cursor remembers and how a fetch splits the unread ids into spans: the
newest posts (the top) and the gaps a stopped fetch left, each read by later fetches
with since_id/until_id, so nothing between two polls is skipped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.x.mapping import Page, TweetError, snowflake_time, tweet_to_post
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp

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

    def posts(self, *, source: str, brand_user_id: str) -> tuple[list[Post], list[str]]:
        """The tweets collected, oldest first, as Posts, and a problem line per tweet that is not one."""
        posts = []
        problems = []
        for tweet_id in sorted(self.tweets, key=int):
            try:
                posts.append(
                    tweet_to_post(
                        self.tweets[tweet_id], self.users, self.included, source=source, brand_user_id=brand_user_id
                    )
                )
            except TweetError as exc:
                problems.append(f"tweet {tweet_id}: {exc}")
        return posts, problems


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


def top_within_reach(state: XState, now: datetime, run: Run) -> Span:
    """Recent search refuses ids and times older than 7 days: start the top at the
    edge of the window when it begins before it. Everything up to the last read of
    the top (`checked_at`) was read, so only what came after it and is now beyond the
    edge is noted in `run.lost`; a cursor without checked_at (written before it was
    kept) names nothing rather than guess."""
    edge = now - SEARCH_WINDOW
    if state.checked_at is not None and state.checked_at < edge:
        run.lost.append((state.checked_at, edge))
    top = state.top
    start = top.begins()
    return Span(start_time=edge) if start is None or start < edge else top


def gap_within_reach(span: Span, now: datetime, run: Run) -> Span | None:
    """A gap as far as recent search still reaches it (None when all of it is older
    than 7 days); the unread part cut off is noted in `run.lost`."""
    edge = now - SEARCH_WINDOW
    start = span.begins()
    if span.until_id is not None and snowflake_time(span.until_id) <= edge:
        run.lost.append((start, snowflake_time(span.until_id)))
        return None
    if start is None or start < edge:
        run.lost.append((start, edge))
        return Span(start_time=edge, until_id=span.until_id)
    return span


def live_conversations(conversations: Iterable[str], since: datetime) -> tuple[str, ...]:
    """The conversations started since `since` (older ones are no longer watched)."""
    return tuple(c for c in conversations if snowflake_time(c) >= since)


def track_conversations(state: XState, posts: Sequence[Post], since: datetime) -> XState:
    """Start watching conversations the brand's new posts open. Replies to them
    newer than the old cursor were not asked for yet, so the cursor steps back to
    the oldest new conversation (re-read posts are dropped as known)."""
    known = set(state.conversations)
    fresh = [
        p.native_id
        for p in posts
        if p.is_own and p.parent_id is None and (p.conversation_id in (None, p.native_id))
        if p.native_id not in known
    ]
    if not fresh:
        return state
    conversations = live_conversations([*state.conversations, *fresh], since)
    oldest_fresh = min(fresh, key=int)
    top = state.top
    checked_at = state.checked_at
    if top.since_id is not None:
        top = Span(since_id=older(top.since_id, oldest_fresh))
        # the new conversations' replies were read from nowhere yet: from their start on
        if checked_at is not None:
            checked_at = min(checked_at, snowflake_time(oldest_fresh))
    return XState(top=top, gaps=state.gaps, conversations=conversations, checked_at=checked_at)
