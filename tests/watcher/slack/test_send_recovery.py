"""An item left `sending` by a watcher process that died mid-send is settled by the
Slack tick once the dead send's lease has run out: replied when X has the brand's
reply, else failed and retryable. The sender is a real process, killed; tweepy
talks to a fake X, slack-sdk to a fake Slack."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from connectors.base import PostedReply
from tests.connectors.x.support import BRAND_ID
from tests.fakes.slack_api import FakeSlack
from tests.fakes.x_api import FakeX
from tests.watcher.queue.send_child import kill_mid_send
from watcher.config import Config
from watcher.core.post import Post
from watcher.queue.platform import LOOK_FIRST
from watcher.slack.jobs import check_native_replies, run_slack_jobs
from watcher.slack.outbox import card_key
from watcher.slack.runtime import SlackRuntime
from watcher.store import Store

from .conftest import ANA, LUCA, START, Clock, RecordingConnector, blocks_text, ingest, make_post, make_runtime
from .harness import Harness
from .test_native_scope import open_items, runtime_for, x_sources


@pytest.fixture
def x_fake(clock: Clock) -> Iterator[FakeX]:
    server = FakeX(brand_id=BRAND_ID, clock=clock).start()
    server.add_user("2001", "alice", "Alice A")
    try:
        yield server
    finally:
        server.stop()


def killed_send(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> tuple[SlackRuntime, int, str]:
    """One carded item, approved; a watcher process sends it and is killed once X
    has the tweet. Returns the runtime, the item id and the customer's tweet id."""
    config, store, tweets = open_items(tmp_path, fake, x_fake, clock, x_sources(x_fake, mentions={"mode": "mentions"}))
    runtime = runtime_for(config, store, client, clock)
    run_slack_jobs(runtime)  # the card
    tweet_id = tweets["mentions"]
    item = store.items.item_for_post(f"x:{tweet_id}")
    assert item is not None
    runtime.queue.draft(item.id, "UANA", "We are on it!")
    runtime.queue.approve(item.id, "ULUCA")
    kill_mid_send(x_fake, Path(config.storage.path), item.id, tweet_id, now=clock.now)
    assert store.items.get_item(item.id).state == "sending"
    return runtime, item.id, tweet_id


def card(runtime: SlackRuntime, fake: FakeSlack, item_id: int) -> str:
    saved = runtime.store.slack.slack_message(card_key(item_id))
    assert saved is not None
    return blocks_text(fake.find(saved["channel"], saved["ts"]))


def test_a_send_killed_after_x_posted_closes_as_replied_once_its_lease_ends(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> None:
    runtime, item_id, tweet_id = killed_send(tmp_path, fake, x_fake, clock, client)
    with runtime.store:
        x_fake.requests.clear()
        assert check_native_replies(runtime) == 0  # the dead send's lease still runs: left alone
        assert runtime.store.items.get_item(item_id).state == "sending"
        assert x_fake.count("users_tweets") == 0

        clock.advance(minutes=10)
        run_slack_jobs(runtime)

        [reply] = x_fake.posted_replies(tweet_id)
        item = runtime.store.items.get_item(item_id)
        assert item is not None and item.state == "replied" and reply["id"] in item.reply_url
        replied = runtime.store.items.events_for_item(item_id)[-1]
        assert (replied["action"], replied["actor"], replied["detail"]["found_on_platform"]) == (
            "replied",
            "watcher",
            True,
        )
        text = card(runtime, fake, item_id)
        assert "Replied by" in text and "Reply found on the platform" in text


def test_a_send_killed_with_nothing_on_x_returns_to_failed_and_the_retry_posts_once(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> None:
    runtime, item_id, tweet_id = killed_send(tmp_path, fake, x_fake, clock, client)
    with runtime.store:
        [lost] = x_fake.posted_replies(tweet_id)
        x_fake.delete_tweet(lost["id"])  # X lost it: reads show no brand reply
        clock.advance(minutes=10)

        run_slack_jobs(runtime)

        item = runtime.store.items.get_item(item_id)
        assert item is not None and item.state == "failed"
        assert "the send was interrupted" in item.last_error and LOOK_FIRST in item.last_error
        assert runtime.store.items.events_for_item(item_id)[-1]["action"] == "send_failed"
        assert "Retry send" in card(runtime, fake, item_id)

        result = runtime.send(item_id, "ULUCA", require_approval=True)

        assert result.item.state == "replied"
        assert [r["id"] for r in x_fake.posted_replies(tweet_id)] != [lost["id"]]
        assert x_fake.count("create_tweet") == 2  # the lost one and the retry


def test_an_item_whose_send_is_running_is_not_touched_by_the_check(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> None:
    runtime, item_id, _ = killed_send(tmp_path, fake, x_fake, clock, client)
    with runtime.store:
        clock.advance(minutes=2)  # inside the lease: to the check, a send still running
        x_fake.requests.clear()
        assert check_native_replies(runtime) == 0
        assert runtime.store.items.get_item(item_id).state == "sending"
        assert [e["action"] for e in runtime.store.items.events_for_item(item_id)][-1] == "send"


@pytest.mark.parametrize("edited", [False, True], ids=["failed", "draft-edited-since"])
def test_a_timed_out_send_that_x_shows_later_closes_as_replied_not_answered_natively(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient, edited: bool
) -> None:
    sources = x_sources(x_fake, mentions={"mode": "mentions", "timeout_seconds": 0.3})
    config, store, tweets = open_items(tmp_path, fake, x_fake, clock, sources)
    runtime = runtime_for(config, store, client, clock)
    with store:
        run_slack_jobs(runtime)  # the card
        item = store.items.item_for_post(f"x:{tweets['mentions']}")
        assert item is not None
        runtime.queue.draft(item.id, "UANA", "We are on it!")
        x_fake.delay_next_post(2.0)  # X posts it, the answer times out, reads lag
        x_fake.index_delay = True
        failed = runtime.send(item.id, "UANA", require_approval=False)
        assert failed.item.state == "failed" and LOOK_FIRST in failed.item.last_error

        if edited:  # the agent starts a new wording; the first one is on X all along
            assert runtime.queue.draft(item.id, "UANA", "We are on it, promise!").item.state == "drafted"
        x_fake.index_now()
        clock.advance(minutes=10)
        run_slack_jobs(runtime)

        closed = store.items.get_item(item.id)
        assert closed is not None and closed.state == "replied"
        assert store.items.events_for_item(item.id)[-1]["detail"]["found_on_platform"] is True
        text = card(runtime, fake, item.id)
        assert "Replied by" in text and "Reply found on the platform" in text and "replied natively" not in text
        assert len(x_fake.posted_replies(tweets["mentions"])) == 1


class HeldConnector(RecordingConnector):
    """The platform takes the reply and answers only when the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.answer = threading.Event()

    def reply(self, post: Post, text: str) -> Any:
        self.inside.set()
        assert self.answer.wait(60), "the test never let the platform answer"
        return super().reply(post, text)


def test_a_send_click_in_a_second_process_is_told_a_send_is_running(
    store: Store, config: Config, fake: FakeSlack, client: WebClient, clock: Clock
) -> None:
    """`watcher run` beside `watcher slack serve --no-jobs`: two runtimes on one database."""
    held = HeldConnector()
    first = make_runtime(store, config, client, clock, held)
    (item_id,) = ingest(store, config, clock, make_post("1", priority="normal"))
    run_slack_jobs(first)
    Harness(first).submit_draft(item_id, ANA, "On it")
    with Store(config.storage.path) as other_store:
        other = RecordingConnector()
        second = Harness(make_runtime(other_store, config, client, clock, other))
        thread = threading.Thread(target=Harness(first).click, args=("send", item_id, ANA))
        thread.start()
        assert held.inside.wait(60)

        second.click("send", item_id, LUCA)

        held.answer.set()
        thread.join()
        told = [c.params["text"] for c in fake.calls_to("chat.postEphemeral") if c.params["user"] == LUCA]
        assert len(told) == 1 and "is being sent right now" in told[0]
        assert other.replies == [] and held.replies == [("x:1", "On it")]
        assert other_store.items.get_item(item_id).state == "replied"


class CheckedMidSend(HeldConnector):
    """The native-reply check reads the platform, and before it applies the answer a send
    of the item starts and waits on the platform (its lease held)."""

    def __init__(self) -> None:
        super().__init__()
        self.during_read: Callable[[], None] | None = None

    def find_own_replies(self, posts: Any) -> dict[str, Any]:
        found = super().find_own_replies(posts)
        if self.during_read is not None:
            during, self.during_read = self.during_read, None
            during()
        return found


def drafted_item(
    store: Store, config: Config, client: WebClient, clock: Clock
) -> tuple[SlackRuntime, CheckedMidSend, int]:
    """One carded item with a draft, sendable without approval."""
    connector = CheckedMidSend()
    runtime = make_runtime(store, config, client, clock, connector)
    (item_id,) = ingest(store, config, clock, make_post("1", priority="normal"))
    run_slack_jobs(runtime)
    runtime.queue.draft(item_id, "UANA", "On it")
    return runtime, connector, item_id


def check_while_a_send_starts(runtime: SlackRuntime, connector: CheckedMidSend, item_id: int) -> tuple[int, str]:
    """Run the native-reply check; while it reads the platform a send of the item starts
    and waits on the platform. Returns what the check closed and the item's state right
    after it; the send is then let finish."""
    thread = threading.Thread(
        target=runtime.queue.send, args=(item_id, "UANA", connector), kwargs={"require_approval": False}
    )

    def start() -> None:
        thread.start()
        assert connector.inside.wait(60), "the send never reached the platform"

    connector.during_read = start
    try:
        closed = check_native_replies(runtime)
        return closed, runtime.store.items.get_item(item_id).state
    finally:
        connector.answer.set()
        if thread.is_alive():
            thread.join()


def test_a_send_started_while_the_check_reads_the_platform_is_not_closed_as_answered_natively(
    store: Store, config: Config, fake: FakeSlack, client: WebClient, clock: Clock
) -> None:
    """The platform already shows a brand reply (made there, or this send's own once it
    lands): the check read it before the click; applied after, it must not close the
    item under the running send."""
    runtime, connector, item_id = drafted_item(store, config, client, clock)
    connector.native["x:1"] = PostedReply("x", "n1", "https://x.com/acme/status/n1", START)
    assert check_while_a_send_starts(runtime, connector, item_id) == (0, "sending")

    actions = [e["action"] for e in store.items.events_for_item(item_id)]
    assert "answered_elsewhere" not in actions and actions[-2:] == ["send", "replied"]
    assert connector.replies == [("x:1", "On it")]


class Interrupted(BaseException):
    """The watcher process stopped mid-send (a shutdown): the item stays `sending`."""


class StopsMidSend(RecordingConnector):
    def reply(self, post: Post, text: str) -> Any:
        raise Interrupted()


def test_a_retry_that_takes_the_lease_after_the_check_read_the_platform_is_not_called_interrupted(
    store: Store, config: Config, fake: FakeSlack, client: WebClient, clock: Clock
) -> None:
    """An item left `sending` by a stopped send: the check reads the platform (nothing
    there), a retry click takes the lease and posts, then the check settles. It must see
    the retry's lease and leave the item to it, not fail it as interrupted."""
    runtime, connector, item_id = drafted_item(store, config, client, clock)
    with pytest.raises(Interrupted):
        runtime.queue.send(item_id, "UANA", StopsMidSend(), require_approval=False)
    assert store.items.get_item(item_id).state == "sending"
    assert check_while_a_send_starts(runtime, connector, item_id) == (0, "sending")

    actions = [e["action"] for e in store.items.events_for_item(item_id)]
    assert "send_failed" not in actions and actions[-1] == "replied"
    assert connector.replies == [("x:1", "On it")]
