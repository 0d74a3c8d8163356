"""Exactly-once sending under the races a real deployment meets, through the real
tweepy against the fake X: a draft edited after an uncertain send, X refusing a
retry, two watcher processes on one database, and a process killed mid-send."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.reddit.connector import RedditConnector
from tests.connectors.reddit.test_connector import ENV as REDDIT_ENV
from tests.connectors.x.support import Clock, make_connector, running_fake
from tests.connectors.x.test_reply import approved_item, customer_post
from tests.fakes.x_api import FakeX
from tests.watcher.queue.send_child import kill_mid_send, wait_for
from watcher.core.config import SourceConfig
from watcher.queue.machine import Queue, SendInProgress
from watcher.queue.platform import LOOK_FIRST, SEND_LEASE, SEND_REQUESTS, send_lease
from watcher.store import Store

pytestmark = pytest.mark.slow  # processes racing to send, one killed mid-send

NOT_ALLOWED = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the "
    "author of the post you are replying to."
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with running_fake(clock) as server:
        server.add_user("2001", "alice", "Alice A")
        yield server


def uncertain_first_send(fake: FakeX, clock: Clock, queue: Queue, item_id: int) -> None:
    """X creates the reply, the answer times out, and reads do not show it yet."""
    fake.delay_next_post(2.0)
    fake.index_delay = True
    first = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions", timeout=0.3))
    assert first.item.state == "failed" and LOOK_FIRST in first.item.last_error


def test_editing_the_draft_after_an_uncertain_send_posts_no_second_reply(
    fake: FakeX, clock: Clock, store: Store
) -> None:
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "Sorry for the double charge, we refunded it.")
    uncertain_first_send(fake, clock, queue, item_id)

    # the card offers "Edit draft": the agent changes one word, the lead approves and sends
    queue.draft(item_id, "agent", "Sorry for the double charge - we refunded it.")
    queue.approve(item_id, "lead")
    fake.index_now()
    second = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))

    [stored] = fake.posted_replies(post.native_id)  # the first words, once
    assert second.item.state == "replied" and stored["id"] in second.item.reply_url
    assert fake.count("create_tweet") == 1
    replied = store.items.events_for_item(item_id)[-1]
    assert replied["action"] == "replied" and replied["detail"]["found_on_platform"] is True
    assert store.replies.unsettled_replies(item_id) == []  # the first attempt's row is settled too


def test_a_refusal_after_an_uncertain_send_keeps_looking(fake: FakeX, clock: Clock, store: Store) -> None:
    """The retry finds nothing yet (X's reads lag), posts, and X refuses; the first
    attempt may still have posted, so the next send must look again, not post blind."""
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "We are on it!")
    uncertain_first_send(fake, clock, queue, item_id)

    fake.fail("create_tweet", 403, detail=NOT_ALLOWED)
    refused = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
    assert refused.item.state == "failed"
    assert "limits who can reply" in refused.item.last_error and LOOK_FIRST in refused.item.last_error
    assert [r["status"] for r in store.replies.unsettled_replies(item_id)] == ["unknown"]

    fake.index_now()
    third = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))

    assert third.item.state == "replied" and len(fake.posted_replies(post.native_id)) == 1


def test_a_duplicate_refusal_from_x_means_look_again_not_reword(fake: FakeX, clock: Clock, store: Store) -> None:
    """X refuses the retry as a duplicate of the brand's own recent post: proof the first
    attempt most likely posted. The item must not send anew once X shows the reply."""
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "We are on it!")
    uncertain_first_send(fake, clock, queue, item_id)

    fake.fail("create_tweet", 403, detail=DUPLICATE)
    refused = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
    assert refused.item.state == "failed"
    assert "may have posted it" in refused.item.last_error and LOOK_FIRST in refused.item.last_error

    fake.index_now()
    third = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))

    assert third.item.state == "replied" and len(fake.posted_replies(post.native_id)) == 1
    assert fake.count("create_tweet") == 2  # the first (posted) and the refused retry


def test_two_processes_sending_at_once_post_once(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    """`watcher run` and `watcher slack serve --no-jobs` on one database: each has its own
    Store and Queue, so only the lease in the database keeps the second click off X."""
    with Store(tmp_path / "w.db") as store_a, Store(tmp_path / "w.db") as store_b:
        post = customer_post(fake, clock)
        item_id = approved_item(store_a, Queue(store_a, clock=clock), post, clock, "We are on it!")
        fake.index_delay = True
        fake.delay_next_post(2.0)  # X creates the tweet, answers later
        results = {}

        def first_click() -> None:
            connector = make_connector(fake, clock, mode="mentions")
            results["a"] = Queue(store_a, clock=clock).send(item_id, "lead", connector).item.state

        thread = threading.Thread(target=first_click)
        thread.start()
        wait_for(lambda: bool(fake.posted_replies(post.native_id)), "process A's post to reach X")
        with pytest.raises(SendInProgress, match="being sent right now"):
            Queue(store_b, clock=clock).send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
        thread.join()

        assert results == {"a": "replied"}
        assert fake.count("create_tweet") == 1 and len(fake.posted_replies(post.native_id)) == 1
        again = Queue(store_b, clock=clock).send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
        assert not again.changed and again.item.state == "replied"


def test_a_send_killed_mid_post_is_guarded_until_its_lease_ends_then_looks_first(
    fake: FakeX, clock: Clock, store: Store, tmp_path: Path
) -> None:
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "We are on it!")

    kill_mid_send(fake, tmp_path / "watcher.db", item_id, post.native_id, now=clock.now)

    assert store.items.get_item(item_id).state == "sending"
    with pytest.raises(SendInProgress, match="sending is possible again after 12:03 UTC"):
        queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
    clock.advance(minutes=3, seconds=1)  # the dead process's lease has run out
    result = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))

    assert result.item.state == "replied" and len(fake.posted_replies(post.native_id)) == 1
    assert fake.count("create_tweet") == 1


def test_a_slow_send_keeps_the_item_past_three_minutes(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    """timeout_seconds = 60: X creates the reply and answers late. Three minutes on, a
    second process's click and the Slack tick's settling must both leave the send alone,
    or the click posts a second reply (X's search does not show the first one yet) and
    the tick calls the running send interrupted."""
    with Store(tmp_path / "w.db") as store_a, Store(tmp_path / "w.db") as store_b:
        post = customer_post(fake, clock)
        item_id = approved_item(store_a, Queue(store_a, clock=clock), post, clock, "We are on it!")
        fake.index_delay = True
        fake.delay_next_post(2.0)
        results = {}

        def slow_click() -> None:
            connector = make_connector(fake, clock, mode="mentions", timeout=60.0)
            results["a"] = Queue(store_a, clock=clock).send(item_id, "lead", connector).item.state

        thread = threading.Thread(target=slow_click)
        thread.start()
        try:
            wait_for(lambda: bool(fake.posted_replies(post.native_id)), "process A's post to reach X")
            clock.advance(minutes=3, seconds=1)
            queue_b = Queue(store_b, clock=clock)
            with pytest.raises(SendInProgress, match="being sent right now"):
                queue_b.send(item_id, "lead", make_connector(fake, clock, mode="mentions", timeout=60.0))
            assert not queue_b.platform_reply_seen(item_id, None).changed  # the tick: X shows nothing yet
            # an ingest that meets the brand's reply (A's own) leaves it to A too
            assert not queue_b.answered_elsewhere(item_id, url="https://x.com/acme/status/9").changed
        finally:
            thread.join()

        assert results == {"a": "replied"}
        assert fake.count("create_tweet") == 1 and len(fake.posted_replies(post.native_id)) == 1
        assert "send_failed" not in [e["action"] for e in store_b.items.events_for_item(item_id)]


def test_the_send_lease_outlasts_a_send_at_the_connectors_timeout(fake: FakeX, clock: Clock) -> None:
    assert send_lease(make_connector(fake, clock, mode="mentions", timeout=10.0)) == SEND_LEASE
    # X's default 20 s: five requests, each up to 20 s to connect and 20 s to read, and a minute
    assert send_lease(make_connector(fake, clock, mode="mentions", timeout=20.0)) == timedelta(minutes=4, seconds=20)
    slow = make_connector(fake, clock, mode="mentions", timeout=300.0)
    assert slow.request_timeout == 300.0
    assert send_lease(slow) > timedelta(seconds=SEND_REQUESTS * 2 * 300)
    slow.request_timeout = None  # a connector that does not say (the contract's default)
    assert send_lease(slow) == SEND_LEASE


def test_a_reddit_source_sizes_the_send_lease_from_its_timeout_seconds() -> None:
    options = {"oauth_url": "http://127.0.0.1:9", "reddit_url": "http://127.0.0.1:9", "subreddits": ["LumoBank"]}
    source = SourceConfig(name="reddit_brand", kind="reddit", options={**options, "timeout_seconds": 120})
    connector = RedditConnector.from_config(source, REDDIT_ENV)  # builds praw.Reddit; no request is made
    try:
        assert connector.request_timeout == 120.0
        assert send_lease(connector) == timedelta(minutes=21)  # five requests of 2 x 120 s, and a minute
    finally:
        connector.close()


def test_a_locked_database_when_the_lease_ends_does_not_turn_a_sent_reply_into_an_error(
    fake: FakeX, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the write lock past the busy timeout just as the send ends its
    lease: the reply is posted and recorded, so the click reports it; the lease runs out."""
    path = tmp_path / "w.db"
    with Store(path) as store, closing(sqlite3.connect(path, isolation_level=None)) as other:
        post = customer_post(fake, clock)
        queue = Queue(store, clock=clock)
        item_id = approved_item(store, queue, post, clock, "We are on it!")
        store.db.conn.execute("PRAGMA busy_timeout = 0")  # the busy timeout has passed, at once

        def lock_at_release(sql: str, params: object) -> None:
            if sql.startswith("UPDATE replies SET posting_until = NULL"):
                other.execute("BEGIN IMMEDIATE")

        with store.db.tracer(lock_at_release):
            result = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions"))
        other.execute("ROLLBACK")

        assert result.changed and result.item.state == "replied"
        assert len(fake.posted_replies(post.native_id)) == 1
        assert "could not end the send lease" in caplog.text
        assert store.replies.reply_lease_until(item_id, now=clock.now) is not None  # left to run out
        clock.advance(minutes=3, seconds=1)
        assert store.replies.reply_lease_until(item_id, now=clock.now) is None
