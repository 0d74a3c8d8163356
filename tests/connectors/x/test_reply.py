"""The public reply through tweepy against the fake X API, and exactly-once sending
through the watcher's queue when X times out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import AuthFailed, RateLimited, ReplyOutcomeUnknown, ReplyRejected
from connectors.x.connector import XConnector
from tests.connectors.x.support import BRAND_ID, Clock, make_connector, running_fake
from tests.fakes.x_api import FakeX
from watcher.core.post import Post
from watcher.queue.machine import Queue
from watcher.store import Store


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with running_fake(clock) as server:
        server.add_user("2001", "alice", "Alice A")
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "watcher.db")
    yield db
    db.close()


def customer_post(fake: FakeX, clock: Clock, text: str = "@acme my card was charged twice, help?") -> Post:
    """A mention on the fake server, fetched and mapped the way the watcher sees it."""
    tweet_id = fake.add_tweet("2001", text, at=clock.now - timedelta(minutes=10))
    result = make_connector(fake, clock, mode="mentions").fetch(None)
    fake.requests.clear()
    return next(p for p in result.posts if p.native_id == tweet_id)


def approved_item(store: Store, queue: Queue, post: Post, clock: Clock, text: str) -> int:
    store.posts.insert_post(post, None, fetched_at=clock.now)
    item_id = store.items.create_queue_item(post.key, priority="high", score=70, channel="#care", now=clock.now)
    assert item_id is not None
    queue.draft(item_id, "agent", text)
    queue.approve(item_id, "lead")
    return item_id


def test_reply_posts_in_reply_to_the_post_with_user_context(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions")

    posted = connector.reply(post, "Sorry about that! Please DM us the last 4 digits & we'll fix it.")

    [request] = fake.requests
    assert request.method == "POST" and request.auth == "oauth"
    assert request.body == {
        "text": "Sorry about that! Please DM us the last 4 digits & we'll fix it.",
        "reply": {"in_reply_to_tweet_id": post.native_id},
    }
    [stored] = fake.posted_replies(post.native_id)
    assert posted.native_id == stored["id"] and posted.platform == "x"
    assert posted.url == f"https://x.com/acme/status/{stored['id']}"
    assert posted.posted_at == clock.now


def test_reply_not_allowed_comes_back_as_an_actionable_rejection(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    fake.reply_restricted.add(post.native_id)

    with pytest.raises(ReplyRejected) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, "We can help!")

    message = caught.value.message
    assert "limits who can reply" in message and "handled_elsewhere" in message and post.key in message
    assert fake.posted_replies(post.native_id) == []


def test_reply_to_a_deleted_post_says_so(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    fake.delete_tweet(post.native_id)

    with pytest.raises(ReplyRejected) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, "We can help!")

    assert "deleted" in caught.value.message and "dismiss" in caught.value.message


def test_too_long_reply_is_refused_before_any_request(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    text = "Thanks for waiting, " + "we are looking into it " * 11 + "https://help.acme.example/refunds"

    with pytest.raises(ReplyRejected) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, text)

    assert "as X counts them" in caught.value.message and "shorten it by" in caught.value.message
    assert fake.requests == []


def test_reply_without_user_context_names_the_variables(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions", replies=False)

    with pytest.raises(ReplyRejected) as caught:
        connector.reply(post, "hello")

    assert "access_token_env" in caught.value.message
    assert fake.requests == []


def test_reply_without_user_id_is_refused_because_a_retry_could_not_look(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="search", query="acme", user_id="")

    with pytest.raises(ReplyRejected) as caught:
        connector.reply(post, "hello")

    assert "user_id" in caught.value.message and fake.requests == []
    assert connector.find_own_reply(post) is None


def test_rejected_user_credentials_are_an_auth_failure(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    fake.consumer_key = "rotated-key"

    with pytest.raises(AuthFailed) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, "hello")

    assert "401" in caught.value.message and "test-consumer-key" not in caught.value.message


def test_a_timeout_is_an_unknown_outcome_and_find_own_reply_sees_the_post(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions", timeout=0.3)
    fake.delay_next_post(2.0)

    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(post, "On it & checking now")

    [stored] = fake.posted_replies(post.native_id)
    found = connector.find_own_reply(post, "On it & checking now")
    assert found is not None and found.native_id == stored["id"]
    assert connector.find_own_reply(post, "a different text") is None


def test_queue_send_retry_after_a_timeout_posts_once(fake: FakeX, clock: Clock, store: Store) -> None:
    """X posted the reply but the answer timed out, and search had not indexed it
    yet; the retry must find it instead of posting a second copy."""
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    text = "Sorry for the double charge & thanks for your patience: https://acme.example/refunds"
    item_id = approved_item(store, queue, post, clock, text)
    connector = make_connector(fake, clock, mode="mentions", timeout=0.3)
    fake.delay_next_post(2.0)
    fake.index_delay = True

    first = queue.send(item_id, "lead", connector)

    assert first.item.state == "failed"
    assert "may have been posted" in first.item.last_error
    assert len(fake.posted_replies(post.native_id)) == 1

    fake.index_now()
    clock.advance(minutes=2)
    second = queue.send(item_id, "lead", connector)

    [stored] = fake.posted_replies(post.native_id)
    assert second.item.state == "replied"
    assert second.item.reply_url == f"https://x.com/acme/status/{stored['id']}"
    assert fake.count("create_tweet") == 1
    assert store.replies.get_reply(second.item.reply_key)["platform_reply_id"] == stored["id"]  # type: ignore[index]


def test_queue_send_retry_after_a_lost_request_posts_exactly_once(fake: FakeX, clock: Clock, store: Store) -> None:
    """The connection died before X got the request: nothing was posted, so the
    retry looks, finds nothing and posts once."""
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "We're on it!")
    connector = make_connector(fake, clock, mode="mentions")
    fake.drop_next_post = True

    first = queue.send(item_id, "lead", connector)
    assert first.item.state == "failed"
    assert fake.posted_replies(post.native_id) == []

    second = queue.send(item_id, "lead", connector)

    assert second.item.state == "replied"
    assert len(fake.posted_replies(post.native_id)) == 1
    assert fake.count("create_tweet") == 2  # the lost one and the real one


def test_queue_send_when_the_first_answer_times_out_but_search_sees_it(fake: FakeX, clock: Clock, store: Store) -> None:
    post = customer_post(fake, clock)
    queue = Queue(store, clock=clock)
    item_id = approved_item(store, queue, post, clock, "We're on it!")
    fake.delay_next_post(2.0)

    result = queue.send(item_id, "lead", make_connector(fake, clock, mode="mentions", timeout=0.3))

    assert result.item.state == "replied"
    assert fake.count("create_tweet") == 1


def test_find_own_reply_detects_a_reply_made_natively_on_x(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector: XConnector = make_connector(fake, clock, mode="mentions")
    assert connector.find_own_reply(post) is None

    native = fake.add_tweet(BRAND_ID, "@alice DM us please", at=clock.now, reply_to=post.native_id)
    fake.add_tweet("2001", "@acme ok", at=clock.now + timedelta(seconds=5), reply_to=native)

    found = connector.find_own_reply(post)

    assert found is not None and found.native_id == native
    assert found.url == f"https://x.com/acme/status/{native}"
    assert fake.requests[-1].params["query"] == f"conversation_id:{post.conversation_id} from:{BRAND_ID}"


def test_find_own_reply_falls_back_to_the_brand_timeline_when_search_lags(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions")
    native = fake.add_tweet(BRAND_ID, "@alice fixed!", at=clock.now, reply_to=post.native_id)
    fake.fail("search_recent", 200)  # an empty-bodied answer stands in for "not indexed yet"
    fake.faults["search_recent"][0].body = {"meta": {"result_count": 0}}

    found = connector.find_own_reply(post, "fixed!")

    assert found is not None and found.native_id == native
    assert fake.requests[-1].endpoint == "users_tweets"
    assert fake.requests[-1].params["since_id"] == post.native_id


def test_a_server_error_while_posting_is_an_unknown_outcome(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    fake.fail("create_tweet", 503)

    with pytest.raises(ReplyOutcomeUnknown) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, "hello")

    assert "may have been posted" in caught.value.message


def test_the_posting_limit_is_a_rate_limit_with_its_reset(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    reset = clock.now + timedelta(hours=3)
    fake.fail("create_tweet", 429, reset=int(reset.timestamp()))

    with pytest.raises(RateLimited) as caught:
        make_connector(fake, clock, mode="mentions").reply(post, "hello")

    assert caught.value.until == reset and caught.value.endpoint == "create_tweet"
    assert "send again after" in caught.value.message


def test_find_own_reply_sends_nothing_inside_a_rate_limit_window(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions")
    fake.fail("search_recent", 429, reset=int((clock.now + timedelta(minutes=15)).timestamp()))
    with pytest.raises(RateLimited):
        connector.find_own_reply(post)
    sent = fake.count()
    with pytest.raises(RateLimited, match="search_recent"):
        connector.find_own_reply(post)
    assert fake.count() == sent  # the window is honoured before the request, not after another 429


def test_find_own_replies_reads_the_brand_timeline_once_for_a_batch(fake: FakeX, clock: Clock) -> None:
    ids = [
        fake.add_tweet("2001", f"@acme problem number {n}", at=clock.now - timedelta(minutes=30 - n)) for n in range(3)
    ]
    posts = sorted(
        (p for p in make_connector(fake, clock, mode="mentions").fetch(None).posts if p.native_id in ids),
        key=lambda p: int(p.native_id),
    )
    fake.requests.clear()
    first = fake.add_tweet(BRAND_ID, "@alice sorted, thanks", at=clock.now, reply_to=ids[0])
    fake.add_tweet(BRAND_ID, "@alice a second answer", at=clock.now + timedelta(seconds=1), reply_to=ids[0])
    fake.add_tweet("2001", "@acme still waiting", at=clock.now, reply_to=ids[1])  # not the brand
    for n in range(120):  # the brand's own news pushes the last answer to a second page
        fake.add_tweet(BRAND_ID, f"news {n}", at=clock.now + timedelta(seconds=2 + n))
    last = fake.add_tweet(BRAND_ID, "@alice DM us", at=clock.now - timedelta(seconds=1), reply_to=ids[2])

    found = make_connector(fake, clock, mode="mentions").find_own_replies(posts)

    assert {key: reply.native_id for key, reply in found.items()} == {posts[0].key: first, posts[2].key: last}
    assert [r.endpoint for r in fake.requests] == ["users_tweets", "users_tweets"]
    assert fake.requests[0].params["since_id"] == ids[0]


def test_find_own_replies_spends_nothing_inside_the_timeline_rate_limit_window(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    connector = make_connector(fake, clock, mode="mentions")
    fake.fail("users_tweets", 429, reset=int((clock.now + timedelta(minutes=15)).timestamp()))
    with pytest.raises(RateLimited):
        connector.find_own_replies([post])
    with pytest.raises(RateLimited):
        connector.find_own_replies([post])
    assert fake.count("users_tweets") == 1


def test_find_own_replies_stops_when_the_timeline_allowance_is_spent(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    first = fake.add_tweet(BRAND_ID, "@alice sorted", at=clock.now, reply_to=post.native_id)
    for n in range(120):  # a second page exists
        fake.add_tweet(BRAND_ID, f"news {n}", at=clock.now + timedelta(seconds=1 + n))
    fake.set_limit("users_tweets", limit=10, remaining=1, reset=clock.now + timedelta(minutes=15))
    connector = make_connector(fake, clock, mode="mentions")

    found = connector.find_own_replies([post])  # page 1 leaves 0: no page 2, no 429

    assert found == {} and fake.count("users_tweets") == 1  # the answer was on page 2, read at the next check
    with pytest.raises(RateLimited):
        connector.find_own_replies([post])  # inside the window: nothing is sent
    assert fake.count("users_tweets") == 1
    clock.advance(minutes=16)
    assert connector.find_own_replies([post])[post.key].native_id == first


def test_find_own_reply_leaves_a_spent_allowance_alone_until_its_reset(fake: FakeX, clock: Clock) -> None:
    """Every caller of X sees x-rate-limit-remaining: 0 the same way (the send path's
    look-up too), so the next request waits for the reset instead of meeting a 429."""
    post = customer_post(fake, clock)
    fake.set_limit("search_recent", limit=60, remaining=1, reset=clock.now + timedelta(minutes=15))
    connector = make_connector(fake, clock, mode="mentions")

    assert connector.find_own_reply(post) is None  # search leaves 0, then the timeline is asked

    with pytest.raises(RateLimited):
        connector.find_own_reply(post)  # search's window is blocked: nothing is sent
    assert fake.count("search_recent") == 1
    clock.advance(minutes=16)
    assert connector.find_own_reply(post) is None
    assert fake.count("search_recent") == 2


def test_find_own_replies_skips_a_timeline_item_without_a_valid_id(fake: FakeX, clock: Clock) -> None:
    post = customer_post(fake, clock)
    broken = fake.add_tweet(BRAND_ID, "@alice first try", at=clock.now - timedelta(minutes=2), reply_to=post.native_id)
    good = fake.add_tweet(
        BRAND_ID, "@alice sorted, thanks", at=clock.now - timedelta(minutes=1), reply_to=post.native_id
    )
    fake.malform(broken, id=None)

    found = make_connector(fake, clock, mode="mentions").find_own_replies([post])

    assert found[post.key].native_id == good
