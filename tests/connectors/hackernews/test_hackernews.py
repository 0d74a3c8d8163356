"""The Hacker News connector against the fake Algolia API: reading to the cursor, the
rate limit, errors, and the read-only reply that says where to answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.base import RateLimited, ReplyRejected, SourceUnavailable
from connectors.hackernews import HackerNewsConnector
from tests.connectors.open_support import Clock, roundtrip
from tests.fakes.hackernews_api import T0, FakeAlgolia
from watcher.core.config import SourceConfig
from watcher.core.post import PostKind


@pytest.fixture
def fake() -> Iterator[FakeAlgolia]:
    server = FakeAlgolia().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def connect(fake: FakeAlgolia, clock: Clock, **options: Any) -> HackerNewsConnector:
    options = {"search": ["lumo"], "brand_account": "lumo_team", "base_url": f"{fake.base_url}/api/v1"} | options
    connector = HackerNewsConnector.from_config(SourceConfig(name="hn", kind="hackernews", options=options), {})
    connector.clock = clock
    return connector


def seed(fake: FakeAlgolia) -> dict[str, str]:
    story = fake.add_story("Show HN: we moved our bank to Lumo", T0 - timedelta(hours=5), by="pat",
                           url="https://blog.example/lumo")  # fmt: skip
    comment = fake.add_comment("Lumo&#x27;s app froze on me<p>twice", T0 - timedelta(hours=3), by="sam", parent=story)
    other = fake.add_story("Ask HN: best travel cards?", T0 - timedelta(hours=2), by="kim")
    return {"story": story, "comment": comment, "other": other}


def test_fetch_reads_stories_and_comments_to_the_cursor_with_one_request_per_term(
    fake: FakeAlgolia, clock: Clock
) -> None:
    ids = seed(fake)
    first = connect(fake, clock).fetch(None)
    by_id = {p.native_id: p for p in first.posts}
    assert list(by_id) == [ids["story"], ids["comment"]]
    story, comment = by_id[ids["story"]], by_id[ids["comment"]]
    assert story.kind == PostKind.MENTION and story.text.startswith("Show HN: we moved our bank to Lumo\n\nhttps://")
    assert comment.text == "Lumo's app froze on me\n\ntwice" and comment.parent_id == ids["story"]
    assert comment.parent_text == "Show HN: we moved our bank to Lumo" and comment.url.endswith(f"id={ids['comment']}")
    assert first.requests_made == 1 and first.problems == ()
    clock.advance(minutes=5)
    idle = connect(fake, clock).fetch(roundtrip(first.cursor))  # a restart
    assert idle.posts == () and idle.requests_made == 1
    assert fake.requests[-1]["numericFilters"] == f"created_at_i>={int((T0 - timedelta(hours=3)).timestamp())}"
    new = fake.add_comment("Lumo support answered in 2 min", T0 + timedelta(minutes=6), by="kim", parent=ids["story"])
    clock.advance(minutes=5)
    assert [p.native_id for p in connect(fake, clock).fetch(roundtrip(idle.cursor)).posts] == [new]


def test_many_new_hits_are_read_page_by_page(fake: FakeAlgolia, clock: Clock) -> None:
    story = fake.add_story("Lumo launches", T0 - timedelta(hours=2), by="pat")
    many = [fake.add_comment(f"lumo {n}", T0 - timedelta(minutes=60 - n), by="sam", parent=story) for n in range(5)]
    result = connect(fake, clock, page_size=2).fetch(None)
    assert [p.native_id for p in result.posts] == [story, *many] and result.requests_made == 3


def test_a_429_waits_for_retry_after_across_a_restart(fake: FakeAlgolia, clock: Clock) -> None:
    seed(fake)
    fake.fail(status=429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimited) as raised:
        connect(fake, clock).fetch(None)
    assert raised.value.until == T0 + timedelta(minutes=10)
    fake.fail(status=429, headers={"Retry-After": "600"}, query="travel")
    partial = connect(fake, clock, search=["lumo", "travel"]).fetch(None)  # the second term is limited
    assert partial.posts and any("rate-limited" in p for p in partial.problems)
    before = len(fake.requests)
    clock.advance(minutes=5)
    with pytest.raises(RateLimited):
        connect(fake, clock, search=["lumo", "travel"]).fetch(roundtrip(partial.cursor))
    assert len(fake.requests) == before


def test_a_server_error_is_unavailable_and_a_malformed_hit_is_a_problem_line(fake: FakeAlgolia, clock: Clock) -> None:
    ids = seed(fake)
    fake.fail(status=502)
    with pytest.raises(SourceUnavailable):
        connect(fake, clock).fetch(None)
    fake.items[ids["comment"]]["author"] = None
    result = connect(fake, clock).fetch(None)
    assert [p.native_id for p in result.posts] == [ids["story"]]
    assert len(result.problems) == 1 and "author is missing" in result.problems[0]


def test_reply_says_where_to_answer_and_an_answer_made_on_hn_is_found(fake: FakeAlgolia, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    comment = next(p for p in connector.fetch(None).posts if p.native_id == ids["comment"])
    before = len(fake.requests)
    with pytest.raises(ReplyRejected, match=rf"news.ycombinator.com/item\?id={ids['comment']}.*mark the item handled"):
        connector.reply(comment, "Sorry! Fixed in 5.0.1")
    assert len(fake.requests) == before
    assert connector.find_own_reply(comment) is None
    answer = fake.add_comment("Sorry! Fixed in 5.0.1", T0, by="lumo_team", parent=ids["comment"])
    found = connector.find_own_reply(comment)
    assert found is not None and found.native_id == answer
    assert connector.find_own_replies([comment]) == {comment.key: found}
