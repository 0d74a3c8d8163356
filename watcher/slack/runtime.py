"""What the Slack listeners and the scheduler's Slack jobs share: the store, the queue,
the Slack client and notifier, who may act, and the connectors replies go through."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from connectors.base import Connector
from watcher.config import Config
from watcher.core.item import OutboxRow, QueueItem
from watcher.core.post import Post, PostKind, utc_now
from watcher.notify.outbox import DeliveryFailed, DeliveryRetry, retry_time
from watcher.queue.machine import Queue, QueueError, Transition
from watcher.slack.modals import reply_limit
from watcher.slack.outbox import SlackNotifier, enqueue_card_update
from watcher.slack.permissions import Permissions
from watcher.slack.sla import BusinessHours
from watcher.store import Store

log = logging.getLogger(__name__)

ConnectorFor = Callable[[Post], Connector]


@dataclass
class SlackRuntime:
    """Everything the listeners and the scheduler jobs share."""

    config: Config
    store: Store
    client: WebClient
    connector_for: ConnectorFor
    clock: Callable[[], datetime] = utc_now
    # pacing between posts to one channel; tests pass a recorder instead of sleeping
    sleep: Callable[[float], None] = time.sleep
    notifier: SlackNotifier = field(init=False)
    queue: Queue = field(init=False)
    permissions: Permissions = field(init=False)
    _redraw_locks: dict[int, threading.Lock] = field(default_factory=dict)
    _send_locks: dict[int, threading.Lock] = field(default_factory=dict)
    # one flusher per process: two threads delivering the same outbox row could post it twice
    flush_lock: threading.Lock = field(default_factory=threading.Lock)
    native_offset: int = 0
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        slack = self.config.slack
        self.notifier = SlackNotifier(
            self.store, self.client, self.config, clock=self.clock, sleep=self.sleep, can_hide=self.can_hide
        )
        self.queue = Queue(self.store, clock=self.clock, four_eyes=slack.four_eyes)
        self.permissions = Permissions(self.client, slack.moderators, slack.approvers)

    @property
    def hours(self) -> BusinessHours:
        return BusinessHours.from_config(self.config.slack, self.config.brand.timezone)

    def approval_required(self, item: QueueItem) -> bool:
        return item.priority in self.config.slack.approval_required

    def redraw(self, item_id: int, *, reason: str = "") -> None:
        """Update the card now; if Slack cannot take it now, the outbox row stays
        pending and the scheduler's flush delivers it (Retry-After honoured). A change
        outside the item (it joined an incident) passes a `reason`: its version is the same."""
        item = self.store.items.get_item(item_id)
        if item is None:
            return
        row_id = enqueue_card_update(self.store, item, now=self.clock(), reason=reason)
        if row_id is None:
            return
        with self._lock_for(self._redraw_locks, item_id):
            row = OutboxRow(row_id, "card_update", "", "", item_id, {"item_id": item_id})
            try:
                ref = self.notifier.deliver(row)
            except DeliveryRetry as exc:  # the click itself succeeded; the redraw waits in the outbox
                log.warning("card for item %s not redrawn yet: %s", item_id, exc)
                self.store.outbox.mark_outbox_retry(
                    row_id, next_attempt_at=retry_time(exc, self.clock()), error=str(exc)
                )
                return
            except DeliveryFailed as exc:
                log.error("card for item %s cannot be redrawn: %s", item_id, exc)
                self.store.outbox.mark_outbox_failed(row_id, error=str(exc))
                return
            self.store.outbox.mark_outbox_sent(row_id, ref=ref, now=self.clock())

    def note(self, item: QueueItem, what: str, text: str) -> None:
        """A message in the card's thread that pings the people who must act next."""
        self.store.outbox.enqueue_outbox(
            "note",
            f"note:{item.id}:{item.version}:{what}",
            {"item_id": item.id, "post_key": item.post_key, "text": text},
            now=self.clock(),
            channel=item.channel or "",
            item_id=item.id,
        )

    def _lock_for(self, locks: dict[int, threading.Lock], item_id: int) -> threading.Lock:
        with self._locks_guard:
            return locks.setdefault(item_id, threading.Lock())

    def send(self, item_id: int, actor: str, *, require_approval: bool) -> Transition:
        """One send per item at a time in this process: a double click waits for the
        first send and then finds the item replied instead of asking the platform twice.
        A click in another process meanwhile is refused by the send lease in the database."""
        with self._lock_for(self._send_locks, item_id):
            return self._send(item_id, actor, require_approval=require_approval)

    def _send(self, item_id: int, actor: str, *, require_approval: bool) -> Transition:
        connector = self._connector(item_id, "reply")
        return self.queue.send(item_id, actor, connector, require_approval=require_approval)

    def hide(self, item_id: int, actor: str, *, hidden: bool) -> Transition:
        """Hide the item's post on its platform (or show it again); one click at a time per
        item, so a double click asks the platform once."""
        with self._lock_for(self._send_locks, item_id):
            connector = self._connector(item_id, "hide posts")
            if hidden:
                return self.queue.hide(item_id, actor, connector)
            return self.queue.unhide(item_id, actor, connector)

    def _connector(self, item_id: int, what: str) -> Connector:
        item = self.queue.item(item_id)
        post = self.store.posts.get_post(item.post_key)
        if post is None:
            raise QueueError(f"post {item.post_key} of item {item_id} is missing from the store")
        try:
            return self.connector_for(post)
        except Exception as exc:
            raise QueueError(
                f"no connector can {what} on {post.platform} for source {post.source!r} ({exc}); "
                "check [sources] in the config"
            ) from None

    def can_hide(self, post: Post) -> bool:
        """Whether the card offers Hide: the post's connector can hide, and it is a comment
        (the platforms hide comments under the brand's posts, not posts or ratings)."""
        if post.kind not in (PostKind.COMMENT, PostKind.REPLY):
            return False
        try:
            return self.connector_for(post).can_hide
        except Exception:
            return False

    def reply_limit(self, post: Post) -> int:
        """The longest public reply `post`'s platform takes (its connector may declare it)."""
        try:
            connector: Connector | None = self.connector_for(post)
        except Exception:
            connector = None
        return reply_limit(post.platform, connector)

    def reply_measure(self, post: Post) -> Callable[[str], int]:
        """The connector's count of reply length (X weighs links and some characters differently)."""
        try:
            connector: Connector = self.connector_for(post)
        except Exception:
            return len
        return connector.reply_length
