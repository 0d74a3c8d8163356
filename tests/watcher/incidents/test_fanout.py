"""Answer everyone against the fake X server (and a recording connector for Reddit):
50 posts, a 429 in the middle, a crash mid-send; each post answered exactly once, none
on X before its reset, none skipped after the restart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, FetchResult, PostedReply
from rules.triage import Triage, TriageContext
from tests.connectors.x.support import BRAND_ID, Clock, make_connector, running_fake
from tests.fakes.x_api import FakeX
from watcher.config import Config, parse_config
from watcher.core.incident import IncidentState, StatementKind
from watcher.core.post import Author, Post, PostKind
from watcher.incidents.actions import Incidents
from watcher.incidents.fanout import FanOut
from watcher.incidents.promises import PromiseList
from watcher.ingest.pipeline import Pipeline
from watcher.store import Store

STATEMENT = {"en": "Hi {handle}, the app is down and we are on it.", "it": "Ciao {handle}, ci stiamo lavorando."}


class Killed(BaseException):
    """The process dies right after the platform posted (nothing of ours runs after)."""


class FakeReddit(Connector):
    """Replies recorded; enough of Reddit for the fan-out (its wire is the Reddit kit's)."""

    name = "reddit"

    def __init__(self) -> None:
        self.replies: list[tuple[str, str]] = []

    def fetch(self, cursor: Any) -> FetchResult:
        return FetchResult(posts=(), cursor=cursor)

    def reply(self, post: Post, text: str) -> PostedReply:
        self.replies.append((post.key, text))
        return PostedReply(
            "reddit", f"c{len(self.replies)}", f"https://reddit.com/c{len(self.replies)}", post.created_at
        )

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        return next((PostedReply("reddit", "c", "u", post.created_at) for k, _ in self.replies if k == post.key), None)

    @classmethod
    def from_config(cls, cfg: Any, env: Any) -> FakeReddit:
        return cls()


def outage_triage(post: Post, ctx: TriageContext) -> Triage:
    return Triage(70, "high", True, -0.5, "negative", post.lang or "en", intents=("outage",))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with running_fake(clock) as server:
        yield server


def build(tmp_path: Path, fake: FakeX, clock: Clock) -> tuple[Store, Config, list[Post]]:
    config = parse_config(
        {
            "brand": {"name": "Acme", "own_accounts": {"x": [BRAND_ID]}},
            "storage": {"path": str(tmp_path / "w.db")},
            "incidents": {"min_posts": 5},
        },
        file=str(tmp_path / "config.toml"),
    )
    for n in range(40):
        fake.add_user(f"30{n:02d}", f"cust{n}")
        fake.add_tweet(f"30{n:02d}", f"@acme app down {n}", at=clock.now - timedelta(minutes=20, seconds=-n))
    x_posts = list(make_connector(fake, clock, mode="mentions").fetch(None).posts)
    reddit_posts = [
        Post(
            platform="reddit",
            native_id=f"t1_{n}",
            kind=PostKind.COMMENT,
            text=f"app non funziona {n}",
            created_at=clock.now - timedelta(minutes=15, seconds=-n),
            author=Author(id=f"r{n}", handle=f"redditor{n}"),
            url=f"https://reddit.com/{n}",
            lang="it",
            source="reddit",
        )
        for n in range(10)
    ]
    posts = [replace(p, lang="en", source="x") for p in x_posts] + reddit_posts
    store = Store(config.storage.path)
    Pipeline(store, config, triage_fn=outage_triage, clock=clock).ingest(
        "x", FetchResult(posts=tuple(posts), cursor=None)
    )
    return store, config, posts


def open_with_statement(store: Store, clock: Clock) -> int:
    [incident] = store.incidents.active(("suggested",))
    incidents = Incidents(store, PromiseList.load(), clock=clock)
    incidents.move(incident.id, IncidentState.INVESTIGATING, "UANA")
    incidents.write_statement(incident.id, StatementKind.FIRST, STATEMENT, "UANA")
    incidents.approve_statement(incident.id, StatementKind.FIRST, "ULUCA")
    return incident.id


def test_fifty_posts_answered_once_through_a_429_and_a_crash(tmp_path: Path, fake: FakeX, clock: Clock) -> None:
    store, _, posts = build(tmp_path, fake, clock)
    assert len(store.incidents.posts(1)) == 50
    incident_id = open_with_statement(store, clock)
    x = make_connector(fake, clock, mode="mentions")
    reddit = FakeReddit()
    posted = {"x": 0}

    class Dies(Connector):
        """X that dies once, after its 12th post reached the platform."""

        name = "x"

        def fetch(self, cursor: Any) -> FetchResult:
            return x.fetch(cursor)

        def reply(self, post: Post, text: str) -> PostedReply:
            reply = x.reply(post, text)
            posted["x"] += 1
            if posted["x"] == 12:
                raise Killed
            return reply

        def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
            return x.find_own_reply(post, text)

        @classmethod
        def from_config(cls, cfg: Any, env: Any) -> Any:
            raise NotImplementedError

    dies = Dies()

    def fanout() -> FanOut:
        return FanOut(store, lambda p: reddit if p.platform == "reddit" else dies, clock=clock, sleep=lambda s: None)

    with pytest.raises(Killed):
        fanout().run(incident_id, actor="ULUCA")
    # restart: a fresh FanOut on the same store; X says 429 on the 8th post from now
    reset = clock.now + timedelta(minutes=15)
    fake.fail("create_tweet", 429, reset=int(reset.timestamp()), when=_nth(8))
    fake.index_now()
    first = fanout().run(incident_id, actor="ULUCA")
    assert first.blocked.get("x") == reset and first.waiting > 0
    requests_at_429 = fake.count("create_tweet")
    second = fanout().run(incident_id, actor="ULUCA")  # before the reset: X is not asked at all
    assert fake.count("create_tweet") == requests_at_429 and second.sent == 0
    clock.advance(minutes=16)
    fake.index_now()
    fanout().run(incident_id, actor="ULUCA")
    fake.index_now()
    last = fanout().run(incident_id, actor="ULUCA")

    for post in posts:
        if post.platform == "x":
            assert len(fake.posted_replies(post.native_id)) == 1, post.native_id
    assert sorted(k for k, _ in reddit.replies) == sorted(p.key for p in posts if p.platform == "reddit")
    assert last.sent == 0 and last.already == 50 and last.done
    answered = [e for e in store.incidents.events(incident_id) if e.action == "answered"]
    assert len({e.detail["post_key"] for e in answered}) == 50


def _nth(n: int) -> Any:
    seen = {"count": 0}

    def when(_params: Any) -> bool:
        seen["count"] += 1
        return seen["count"] == n

    return when


def test_posts_an_agent_handles_and_posts_without_a_statement_are_left(
    tmp_path: Path, fake: FakeX, clock: Clock
) -> None:
    store, _, posts = build(tmp_path, fake, clock)
    [incident] = store.incidents.active(("suggested",))
    incidents = Incidents(store, PromiseList.load(), clock=clock)
    incidents.move(incident.id, IncidentState.INVESTIGATING, "UANA")
    incidents.write_statement(incident.id, StatementKind.FIRST, {"en": STATEMENT["en"]}, "UANA")
    incidents.approve_statement(incident.id, StatementKind.FIRST, "ULUCA")
    item = store.items.item_for_post(posts[0].key)
    assert item is not None
    from watcher.queue.machine import Queue

    Queue(store, clock=clock).draft(item.id, "UMIRA", "My own words")
    reddit = FakeReddit()
    x = make_connector(fake, clock, mode="mentions")
    report = FanOut(store, lambda p: reddit if p.platform == "reddit" else x, clock=clock, sleep=lambda s: None).run(
        incident.id
    )
    assert report.sent == 39 and report.left_to_agents == 1 and report.no_statement == 10
    assert fake.posted_replies(posts[0].native_id) == [] and reddit.replies == []
