from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.base import Connector, PostedReply, ReplyOutcomeUnknown, ReplyRejected
from tests.helpers import T0, make_post
from watcher.core.post import Post
from watcher.queue.machine import Queue, QueueConflict, QueueError
from watcher.queue.transitions import Action
from watcher.store import Store
from watcher.store.items import QueueTables


@dataclass
class RecordingPlatform(Connector):
    """Stands in for a platform behind the Connector protocol: it records every reply
    it accepted; `timeout_after_post` simulates a request that posted but timed out."""

    name: ClassVar[str] = "recording"
    posted: list[tuple[str, str]] = field(default_factory=list)
    timeout_after_post: int = 0
    timeout_before_post: int = 0
    reject: str = ""

    def fetch(self, cursor):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg, env):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def reply(self, post: Post, text: str) -> PostedReply:
        if self.reject:
            raise ReplyRejected(self.reject)
        if self.timeout_before_post:
            self.timeout_before_post -= 1
            raise ReplyOutcomeUnknown("timed out")
        self.posted.append((post.key, text))
        if self.timeout_after_post:
            self.timeout_after_post -= 1
            raise ReplyOutcomeUnknown("timed out after 30 s")
        return PostedReply(post.platform, f"r{len(self.posted)}", f"https://x.test/r{len(self.posted)}", T0)

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        for n, (key, said) in enumerate(self.posted, start=1):
            if key == post.key and (text is None or said == text):
                return PostedReply(post.platform, f"r{n}", f"https://x.test/r{n}", T0)
        return None


@pytest.fixture
def item_id(store: Store) -> int:
    store.posts.insert_post(make_post("where is my refund?", native_id="1"), None, fetched_at=T0)
    created = store.items.create_queue_item("x:1", priority="high", score=70, channel="#care", now=T0)
    assert created is not None
    return created


def actions(store: Store, item_id: int) -> list[str]:
    return [e["action"] for e in store.items.events_for_item(item_id)]


def test_full_reply_flow_is_audited(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0 + timedelta(minutes=14), four_eyes=True)
    platform = RecordingPlatform()
    queue.claim(item_id, "ana")
    queue.draft(item_id, "ana", "Hi! We are on it, DM us your order id.", note="refund ticket 44")
    with pytest.raises(QueueError, match="four-eyes"):
        queue.approve(item_id, "ana")
    queue.approve(item_id, "luca")
    result = queue.send(item_id, "luca", platform)
    assert result.item.state == "replied" and result.item.reply_url == "https://x.test/r1"
    assert platform.posted == [("x:1", "Hi! We are on it, DM us your order id.")]
    assert actions(store, item_id) == ["created", "claim", "draft", "approve", "send", "replied"]
    events = store.items.events_for_item(item_id)
    assert events[2]["detail"]["note"] == "refund ticket 44" and events[3]["actor"] == "luca"
    assert [f["label"] for f in store.items.feedback_rows()] == ["replied"]


def test_double_clicks_are_no_ops(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    assert queue.claim(item_id, "ana").changed
    assert not queue.claim(item_id, "ana").changed
    with pytest.raises(QueueConflict, match="already claimed by ana"):
        queue.claim(item_id, "bob")
    queue.draft(item_id, "ana", "hello")
    assert not queue.draft(item_id, "ana", "hello").changed
    queue.approve(item_id, "bob")
    assert not queue.approve(item_id, "bob").changed
    assert actions(store, item_id) == ["created", "claim", "draft", "approve"]


def test_a_stale_version_loses_the_race(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    stale = store.items.get_item(item_id)
    queue.claim(item_id, "ana")
    assert stale is not None
    with pytest.raises(QueueConflict, match="changed by someone else"):
        queue._move(stale, Action.CLAIM, "bob", {"assignee": "bob"})
    assert store.items.get_item(item_id).assignee == "ana"


def test_reject_returns_the_draft_to_its_author(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    queue.claim(item_id, "ana")
    queue.draft(item_id, "ana", "sorry")
    result = queue.reject(item_id, "luca", "too short, add the refund steps")
    assert (result.item.state, result.item.assignee) == ("claimed", "ana")
    assert store.items.events_for_item(item_id)[-1]["detail"]["note"] == "too short, add the refund steps"


def test_dismiss_snooze_escalate(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    queue.escalate(item_id, "ana", "journalist")
    assert store.items.get_item(item_id).priority == "urgent"
    queue.snooze(item_id, "ana", T0 + timedelta(hours=1))
    assert queue.wake_due() == []
    later = Queue(store, clock=lambda: T0 + timedelta(hours=2))
    assert later.wake_due() == [item_id]
    with pytest.raises(QueueError, match="not one of"):
        later.dismiss(item_id, "ana", "boring")
    later.dismiss(item_id, "ana", "spam")
    assert not later.dismiss(item_id, "ana", "spam").changed
    with pytest.raises(QueueError, match="it is dismissed"):
        later.claim(item_id, "ana")
    assert [f["label"] for f in store.items.feedback_rows()] == ["escalated", "dismissed:spam"]


def test_send_requires_approval(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    queue.draft(item_id, "ana", "hi")
    with pytest.raises(QueueError, match="cannot send"):
        queue.send(item_id, "ana", RecordingPlatform())
    assert queue.send(item_id, "ana", RecordingPlatform(), require_approval=False).item.state == "replied"


def test_a_timeout_after_posting_is_detected_and_not_posted_again(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    platform = RecordingPlatform(timeout_after_post=1)
    queue.draft(item_id, "ana", "We refunded you.")
    queue.approve(item_id, "luca")
    result = queue.send(item_id, "luca", platform)
    assert result.item.state == "replied"
    assert queue.send(item_id, "luca", platform).changed is False
    assert len(platform.posted) == 1


def test_a_timeout_before_posting_fails_then_a_retry_posts_once(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    platform = RecordingPlatform(timeout_before_post=1)
    queue.draft(item_id, "ana", "We refunded you.")
    queue.approve(item_id, "luca")
    failed = queue.send(item_id, "luca", platform)
    assert failed.item.state == "failed" and "check the platform first" in failed.item.last_error
    assert queue.send(item_id, "luca", platform).item.state == "replied"
    assert queue.send(item_id, "luca", platform).changed is False
    assert len(platform.posted) == 1


def test_a_crash_between_reserving_and_posting_looks_before_posting(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    platform = RecordingPlatform()
    queue.draft(item_id, "ana", "Fixed now.")
    queue.approve(item_id, "luca")

    class Crash(Exception):
        pass

    class CrashingPlatform(RecordingPlatform):
        def reply(self, post: Post, text: str) -> PostedReply:
            platform.posted.append((post.key, text))  # the platform got it...
            raise Crash  # ...and the process died before recording the outcome

    with pytest.raises(Crash):
        queue.send(item_id, "luca", CrashingPlatform())
    assert store.items.get_item(item_id).state == "sending"
    result = Queue(store, clock=lambda: T0).send(item_id, "luca", platform)  # after the restart
    assert result.item.state == "replied" and len(platform.posted) == 1


def test_a_rejected_reply_comes_back_with_the_platform_reason(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    queue.draft(item_id, "ana", "hello")
    queue.approve(item_id, "luca")
    result = queue.send(item_id, "luca", RecordingPlatform(reject="reply not allowed: the author limits replies"))
    assert result.item.state == "failed"
    assert result.item.last_error == "reply not allowed: the author limits replies"
    assert actions(store, item_id)[-1] == "send_failed"


def test_answered_elsewhere_closes_the_item(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    result = queue.answered_elsewhere(item_id, url="https://x.com/LumoBank/status/5")
    assert result.item.state == "answered_elsewhere"
    assert not queue.answered_elsewhere(item_id, url="https://x.com/LumoBank/status/5").changed


def test_a_failing_lookup_leaves_the_item_failed_and_retryable(store: Store, item_id: int) -> None:
    from connectors.base import SourceUnavailable

    class LookupDown(RecordingPlatform):
        def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
            raise SourceUnavailable("search is down (503)")

    queue = Queue(store, clock=lambda: T0)
    queue.draft(item_id, "ana", "Refund sent.")
    queue.approve(item_id, "luca")
    flaky = LookupDown(timeout_after_post=1)
    result = queue.send(item_id, "luca", flaky)
    assert result.item.state == "failed" and "search is down" in result.item.last_error
    healed = RecordingPlatform(posted=list(flaky.posted))  # the platform has the reply; search works again
    assert queue.send(item_id, "luca", healed).item.state == "replied"
    assert len(healed.posted) == 1


class ClickLandsMeanwhile(QueueTables):
    """The scheduler's queue items: `after_query` runs right after the snoozed-due query
    returns, `after_read` right after an item is read; a moderator's click (another
    connection to the database) lands there."""

    after_query: list[Callable[[], object]]
    after_read: list[Callable[[], object]]

    def snoozed_due(self, *, now: datetime) -> list[int]:
        due = super().snoozed_due(now=now)
        while self.after_query:
            self.after_query.pop(0)()
        return due

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        item = super().get_item(item_id)
        while self.after_read:
            self.after_read.pop(0)()
        return item


@pytest.mark.parametrize("lands", ["after_query", "after_read"])
def test_wake_never_undoes_a_claim_that_lands_meanwhile(tmp_path: Path, lands: str) -> None:
    scheduler_store = Store(tmp_path / "w.db")
    scheduler_store.items = spy = ClickLandsMeanwhile(scheduler_store)
    spy.after_query, spy.after_read = [], []
    for native_id in ("1", "2"):
        scheduler_store.posts.insert_post(make_post("where is my refund?", native_id=native_id), None, fetched_at=T0)
    first = scheduler_store.items.create_queue_item("x:1", priority="high", score=70, channel="#care", now=T0)
    second = scheduler_store.items.create_queue_item("x:2", priority="high", score=60, channel="#care", now=T0)
    assert first is not None and second is not None
    later = T0 + timedelta(hours=1, seconds=5)
    scheduler = Queue(scheduler_store, clock=lambda: later)
    with Store(tmp_path / "w.db") as app_store:
        app = Queue(app_store, clock=lambda: later)
        for item_id in (first, second):
            app.snooze(item_id, "ana", T0 + timedelta(hours=1))
        getattr(spy, lands).append(lambda: app.claim(first, "luca"))

        assert scheduler.wake_due() == [second]  # a lost race does not stop the others waking

        item = app_store.items.get_item(first)
        assert item is not None and (item.state, item.assignee) == ("claimed", "luca")
        assert actions(app_store, first) == ["created", "snooze", "claim"]
        assert actions(app_store, second) == ["created", "snooze", "wake"]
    scheduler_store.close()


def test_a_snoozed_item_can_be_drafted_which_ends_the_snooze(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    queue.snooze(item_id, "ana", T0 + timedelta(hours=4))
    item = queue.draft(item_id, "ana", "Sorry, we are looking into it.").item
    assert item.state == "drafted" and item.snoozed_until is None and item.assignee == "ana"
    assert actions(store, item_id) == ["created", "snooze", "draft"]


def test_every_refusal_names_the_action_and_the_state(store: Store, item_id: int) -> None:
    queue = Queue(store, clock=lambda: T0)
    with pytest.raises(QueueError, match=f"cannot approve item {item_id}: it is new"):
        queue.approve(item_id, "ana")
