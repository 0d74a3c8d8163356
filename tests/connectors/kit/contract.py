"""The contract tests. A connector's test module subclasses `ConnectorContract` and
provides the `kit` fixture: a `Kit` adapter that starts its fake server and says how
to seed posts, make the server answer 429 or 5xx, serve a malformed item and time out
a reply that did post. Every test below then runs against that connector:

- fetch to the cursor: every seeded post, oldest first, then nothing new;
- restart resumes: a new connector from the stored cursor fetches only what is new;
- 429 with a reset: RateLimited with `until`; through the poller, no request before it,
  across a restart;
- 5xx: SourceUnavailable (the poller's persisted back-off takes over);
- a malformed item: a problem line, the rest fetched;
- reply after a timeout: ReplyOutcomeUnknown, find_own_reply finds it, one post only.

A platform without one of these (a file has no 429) says so with `supports`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import Connector, FetchResult, RateLimited, ReplyOutcomeUnknown, SourceUnavailable
from watcher.config import parse_config
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post
from watcher.ingest.pipeline import Pipeline, Poller
from watcher.store import Store

MAX_MALFORMATIONS = 4  # test ids: malformation 0..3 of a kit's list


class Kit(ABC):
    """How the contract drives one connector and its fake server."""

    kind: str  # the connector kind, for the poller's source
    supports: frozenset[str] = frozenset({"rate_limit", "server_error", "reply"})
    malformations: tuple[str, ...] = ()  # the names `malform` accepts

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def clock(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @abstractmethod
    def connector(self) -> Connector:
        """A new connector pointed at the fake (a new one is a restart)."""

    @abstractmethod
    def seed(self, count: int) -> list[str]:
        """Add `count` new posts; their native ids, oldest first."""

    def requests(self) -> int:
        """How many requests the fake has answered so far."""
        raise NotImplementedError

    def rate_limit(self, reset: datetime) -> None:
        """The next fetch request gets a 429 saying the window resets at `reset`."""
        raise NotImplementedError

    def server_error(self) -> None:
        """The next fetch request gets a 503."""
        raise NotImplementedError

    def malform(self, native_id: str, how: str) -> None:
        """Serve the post `native_id` malformed in the way `how` names."""
        raise NotImplementedError

    def reply_times_out_after_posting(self) -> None:
        """The next reply is posted, but its answer comes too late for the connector."""
        raise NotImplementedError

    def replies_to(self, post: Post) -> int:
        """How many replies the brand has posted to `post` on the fake."""
        raise NotImplementedError


def roundtrip(cursor: Cursor | None) -> Cursor | None:
    """What the store does with a cursor between polls and restarts."""
    return Cursor.from_json(cursor.to_json()) if cursor else None


@dataclass
class Drained:
    posts: list[Post]
    last: FetchResult
    problems: list[str]


def drain(connector: Connector, cursor: Cursor | None, *, limit: int = 20) -> Drained:
    """Fetch until the connector has nothing more (as the poller's catch-up does)."""
    posts: list[Post] = []
    problems: list[str] = []
    for _ in range(limit):
        result = connector.fetch(cursor)
        posts += result.posts
        problems += result.problems
        cursor = roundtrip(result.cursor)
        if not result.has_more:
            return Drained(posts, result, problems)
    raise AssertionError(f"still has_more after {limit} fetches")


class ConnectorContract:
    """Subclass as `TestXxxContract` with a `kit` fixture yielding the connector's Kit."""

    @pytest.fixture
    def kit(self) -> Kit:
        raise NotImplementedError("a connector's contract module provides the kit fixture")

    def needs(self, kit: Kit, what: str) -> None:
        if what not in kit.supports:
            pytest.skip(f"{kit.kind} has no {what.replace('_', ' ')}")

    def test_fetch_to_the_cursor(self, kit: Kit) -> None:
        ids = kit.seed(3)
        first = drain(kit.connector(), None)
        assert [p.native_id for p in first.posts] == ids  # oldest first
        assert first.last.cursor is not None and not first.problems
        assert drain(kit.connector(), roundtrip(first.last.cursor)).posts == []

    def test_restart_resumes_from_the_stored_cursor(self, kit: Kit) -> None:
        kit.seed(2)
        first = drain(kit.connector(), None)
        kit.advance(60)
        fresh = kit.seed(2)
        again = drain(kit.connector(), roundtrip(first.last.cursor))  # a new process
        assert [p.native_id for p in again.posts] == fresh  # nothing again, nothing skipped

    def test_429_with_a_reset_waits_for_it_across_a_restart(self, kit: Kit, tmp_path: Path) -> None:
        self.needs(kit, "rate_limit")
        ids = kit.seed(1)
        reset = kit.now + timedelta(minutes=10)
        kit.rate_limit(reset)
        with pytest.raises(RateLimited) as caught:
            kit.connector().fetch(None)
        assert caught.value.until == reset

        kit.rate_limit(reset)
        source = SourceConfig(name="kit", kind=kit.kind)
        config = parse_config({"brand": {"name": "Lumo"}}, file=str(tmp_path / "config.toml"))

        def poller(store: Store) -> Poller:
            return Poller(source, kit.connector(), Pipeline(store, config, clock=kit.clock))

        with Store(tmp_path / "w.db") as store:
            limited = poller(store).poll()
            assert limited.status == "rate_limited" and limited.next_attempt_at == reset
        asked = kit.requests()
        kit.advance(5 * 60)
        with Store(tmp_path / "w.db") as store:  # restarted: the window was stored
            assert poller(store).poll().status == "skipped"
        assert kit.requests() == asked  # not one request inside the window
        kit.advance(6 * 60)
        with Store(tmp_path / "w.db") as store:
            after = poller(store).poll()
            assert after.status == "ok" and [p.native_id for p in store.iter_posts()] == ids

    def test_5xx_is_source_unavailable(self, kit: Kit) -> None:
        self.needs(kit, "server_error")
        kit.seed(1)
        kit.server_error()
        with pytest.raises(SourceUnavailable):
            kit.connector().fetch(None)

    @pytest.mark.parametrize("which", range(MAX_MALFORMATIONS))
    def test_a_malformed_item_is_a_problem_line_and_the_rest_is_fetched(self, kit: Kit, which: int) -> None:
        assert kit.malformations, "a connector names at least one way its payload can be malformed"
        if which >= len(kit.malformations):
            pytest.skip(f"{kit.kind} names {len(kit.malformations)} malformations")
        how = kit.malformations[which]
        ids = kit.seed(3)
        kit.malform(ids[1], how)
        got = drain(kit.connector(), None)
        assert [p.native_id for p in got.posts] == [ids[0], ids[2]], how
        assert len(got.problems) == 1, (how, got.problems)

    def test_a_reply_that_timed_out_is_found_and_not_posted_again(self, kit: Kit) -> None:
        self.needs(kit, "reply")
        kit.seed(1)
        [post] = drain(kit.connector(), None).posts
        kit.reply_times_out_after_posting()
        connector = kit.connector()
        with pytest.raises(ReplyOutcomeUnknown):
            connector.reply(post, "Hi! We sent you a DM")
        found = connector.find_own_reply(post, "Hi! We sent you a DM")
        assert found is not None
        assert kit.replies_to(post) == 1
