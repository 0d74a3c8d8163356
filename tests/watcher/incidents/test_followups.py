"""Resolve with a closing statement: a follow-up to everyone who got the first statement
and has not been answered individually since, exactly once per post, also across a
crash mid-send (against the fake X server and a recording Reddit)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, FetchResult, PostedReply
from rules.triage import Triage, TriageContext
from tests.connectors.x.support import Clock, make_connector
from tests.fakes.x_api import FakeX
from tests.watcher.incidents.test_fanout import FakeReddit, Killed, build, clock, fake, open_with_statement
from watcher.core.incident import IncidentState, StatementKind
from watcher.core.post import Post
from watcher.digest.incidents import incident_figures
from watcher.incidents.actions import Incidents
from watcher.incidents.fanout import FanOut
from watcher.incidents.promises import bundled_promises
from watcher.ingest.pipeline import Pipeline
from watcher.queue.machine import Queue

__all__ = ["clock", "fake"]  # the fixtures, shared with the fan-out's tests

CLOSING = {"en": "Hi {handle}, the app works again. Thank you for your patience.", "it": "Ciao {handle}, risolto."}


class DiesOnce(Connector):
    """X that dies once, right after its `at`th post reached the platform."""

    name = "x"

    def __init__(self, inner: Connector, at: int) -> None:
        self.inner, self.at, self.posted = inner, at, 0

    def fetch(self, cursor: Any) -> FetchResult:
        return self.inner.fetch(cursor)

    def reply(self, post: Post, text: str) -> PostedReply:
        reply = self.inner.reply(post, text)
        self.posted += 1
        if self.posted == self.at:
            raise Killed
        return reply

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        return self.inner.find_own_reply(post, text)

    @classmethod
    def from_config(cls, cfg: Any, env: Any) -> Any:
        raise NotImplementedError


def test_closing_follow_ups_once_per_post_through_a_crash_skipping_those_answered_since(
    tmp_path: Path, fake: FakeX, clock: Clock
) -> None:
    store, config, posts = build(tmp_path, fake, clock)
    incident_id = open_with_statement(store, clock)
    x = make_connector(fake, clock, mode="mentions")
    reddit = FakeReddit()

    def fanout(x_side: Connector) -> FanOut:
        return FanOut(store, lambda p: reddit if p.platform == "reddit" else x_side, clock=clock, sleep=lambda s: None)

    assert fanout(x).run(incident_id, actor="ULUCA").sent == 50
    # one customer writes again and an agent answers them: they get no follow-up
    clock.advance(minutes=5)
    again = replace(posts[0], native_id="again1", text="still broken? I need help", created_at=clock.now)
    Pipeline(store, config, triage_fn=_question, clock=clock).ingest("x", FetchResult(posts=(again,), cursor=None))
    item = store.items.item_for_post(again.key)
    assert item is not None
    queue = Queue(store, clock=clock)
    queue.draft(item.id, "UANA", "Hi, it is fixed now.")
    queue.approve(item.id, "ULUCA")
    queue.send(item.id, "ULUCA", reddit)  # a recording connector: the reply's platform does not matter here
    clock.advance(minutes=5)

    incidents = Incidents(store, bundled_promises(), clock=clock)
    incidents.move(incident_id, IncidentState.RESOLVED, "UANA")
    assert fanout(x).follow_ups(incident_id).sent == 0  # no approved closing statement yet
    incidents.write_statement(incident_id, StatementKind.CLOSING, CLOSING, "UANA")
    incidents.approve_statement(incident_id, StatementKind.CLOSING, "ULUCA")

    before = {p.key: _texts(fake, reddit, p.key) for p in posts}
    with pytest.raises(Killed):
        fanout(DiesOnce(x, at=5)).follow_ups(incident_id, actor="ULUCA")
    fake.index_now()
    first = fanout(x).follow_ups(incident_id, actor="ULUCA")
    second = fanout(x).follow_ups(incident_id, actor="ULUCA")  # a second click sends nothing
    assert second.sent == 0 and first.left_to_agents == 1
    for post in posts:
        new = _texts(fake, reddit, post.key)[len(before[post.key]) :]
        closing = [t for t in new if "works again" in t or "risolto" in t]
        assert len(closing) == (0 if post.key == posts[0].key else 1), post.key
    assert store.incidents.followups_sent(incident_id) == 49
    [figures] = incident_figures(
        store, since=clock.now - timedelta(days=1), until=clock.now + timedelta(hours=1), now=clock.now
    )
    assert figures.followups == 49


def _question(post: Post, ctx: TriageContext) -> Triage:
    return Triage(60, "high", True, -0.3, "negative", post.lang or "en", intents=("question",))


def _texts(fake: FakeX, reddit: FakeReddit, key: str) -> list[str]:
    """What the brand said to the post, on either platform."""
    native = key.split(":", 1)[1]
    return [str(t["text"]) for t in fake.posted_replies(native)] + [text for k, text in reddit.replies if k == key]
