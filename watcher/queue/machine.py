"""The moderated queue: a state machine over queue items, every step an audit event.

Which action is legal in which state, and where it leads, is the table in
`watcher.queue.transitions`; every move here goes through it.

Transitions are compare-and-set on the item's version, so two agents clicking at
once yield one winner and one clear refusal; repeating a transition that already
happened (a double click) is a no-op that returns the item unchanged.

Sending is exactly-once: the reply's idempotency key is stored before the
platform call, and only the holder of the item's send lease (a column on the reply
row, taken by one UPDATE) calls the platform, so two processes on one database
never post at once. While any earlier attempt's outcome is unknown (a timeout, a
crash), whatever the text is now, the platform is asked for any brand reply to the
post before anything is posted again.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import (
    Connector,
    ConnectorError,
    PostedReply,
    RateLimited,
    ReplyRejected,
)
from watcher.core.item import QueueItem
from watcher.core.post import Post, utc_now
from watcher.core.times import from_iso
from watcher.core.vocab import FINAL_STATES, OPEN_STATES
from watcher.queue.platform import LOOK_FIRST, post_or_find, reply_key, send_lease
from watcher.queue.transitions import Action, QueueError, require, result_state
from watcher.store import Store

log = logging.getLogger(__name__)

DISMISS_REASONS = ("not_relevant", "spam", "handled_elsewhere", "no_reply_needed")


class QueueConflict(QueueError):
    """Someone else changed the item first."""


class SendInProgress(QueueConflict):
    """Another send (a click in this or another watcher process) is posting the item's reply."""


@dataclass(frozen=True)
class Transition:
    item: QueueItem
    changed: bool


class Queue:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utc_now,
        four_eyes: bool = False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.four_eyes = four_eyes

    def item(self, item_id: int) -> QueueItem:
        found = self.store.items.get_item(item_id)
        if found is None:
            raise QueueError(f"queue item {item_id} does not exist")
        return found

    def _move(
        self,
        item: QueueItem,
        action: Action,
        actor: str,
        changes: dict[str, Any] | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Transition:
        """Apply `action` as the transition table has it (refused in a state it does not allow)."""
        require(action, item.id, item.state)
        to_state = result_state(action, item.state).value
        now = self.clock()
        with self.store.transaction():
            ok = self.store.items.update_item(
                item.id, expected_version=item.version, changes={"state": to_state, **(changes or {})}, now=now
            )
            if not ok:
                raise QueueConflict(f"item {item.id} was changed by someone else; refresh and try again")
            self.store.items.add_event(
                item.id,
                item.post_key,
                action,
                actor=actor,
                from_state=item.state,
                to_state=to_state,
                now=now,
                detail=detail,
            )
        return Transition(self.item(item.id), True)

    def claim(self, item_id: int, actor: str) -> Transition:
        item = self.item(item_id)
        if item.state == "claimed" and item.assignee == actor:
            return Transition(item, False)
        if item.state == "claimed":
            raise QueueConflict(f"item {item_id} is already claimed by {item.assignee}")
        return self._move(item, Action.CLAIM, actor, {"assignee": actor, "snoozed_until": None})

    def unclaim(self, item_id: int, actor: str) -> Transition:
        item = self.item(item_id)
        if item.state == "new":
            return Transition(item, False)
        return self._move(item, Action.UNCLAIM, actor, {"assignee": None})

    def draft(self, item_id: int, actor: str, text: str, *, note: str = "") -> Transition:
        item = self.item(item_id)
        if not text.strip():
            raise QueueError("the reply text is empty; write the public reply first")
        if item.state == "drafted" and item.draft_text == text and item.drafted_by == actor:
            return Transition(item, False)
        return self._move(
            item,
            Action.DRAFT,
            actor,
            {
                "draft_text": text,
                "draft_note": note,
                "drafted_by": actor,
                "assignee": item.assignee or actor,
                "approved_by": None,
                "last_error": None,
                "snoozed_until": None,
            },
            {"length": len(text), "note": note} if note else {"length": len(text)},
        )

    def approve(self, item_id: int, actor: str, *, reason: str = "") -> Transition:
        """`reason`: why a draft that promises what needs approval may go out (kept in the event)."""
        item = self.item(item_id)
        if item.state in ("approved", "sending", "replied") and item.approved_by == actor:
            return Transition(item, False)
        require(Action.APPROVE, item_id, item.state)
        if self.four_eyes and item.drafted_by == actor:
            raise QueueError("four-eyes is on: someone other than the drafter must approve this reply")
        return self._move(item, Action.APPROVE, actor, {"approved_by": actor}, {"reason": reason} if reason else None)

    def reject(self, item_id: int, actor: str, note: str) -> Transition:
        item = self.item(item_id)
        return self._move(
            item, Action.REJECT, actor, {"assignee": item.drafted_by, "approved_by": None}, {"note": note}
        )

    def dismiss(self, item_id: int, actor: str, reason: str) -> Transition:
        if reason not in DISMISS_REASONS:
            raise QueueError(f"dismiss reason {reason!r} is not one of {', '.join(DISMISS_REASONS)}")
        item = self.item(item_id)
        if item.state == "dismissed":
            return Transition(item, False)
        result = self._move(item, Action.DISMISS, actor, {"dismiss_reason": reason}, {"reason": reason})
        self.store.items.add_feedback(item.post_key, f"dismissed:{reason}", actor=actor, now=self.clock())
        return result

    def hide(self, item_id: int, actor: str, connector: Connector) -> Transition:
        """Hide the item's post on the platform and dismiss the item as spam. The platform
        is asked once per click (hiding twice is harmless there); a repeat click on a hidden
        item asks nothing. What the platform said is in the audit event."""
        item = self.item(item_id)
        if item.hidden:
            return Transition(item, False)
        require(Action.HIDE, item_id, item.state)
        post = self._post_of(item)
        self._on_platform(connector.hide, post, "hide")
        changes = {"hidden": 1, "dismiss_reason": "spam"}
        detail = {"reason": "spam", "on_platform": "hidden", "source": post.source}
        result = self._move_fresh(item_id, Action.HIDE, actor, changes, detail)
        self.store.items.add_feedback(item.post_key, "dismissed:spam", actor=actor, now=self.clock())
        return result

    def unhide(self, item_id: int, actor: str, connector: Connector) -> Transition:
        """Show the post again and put the item back in the queue as new: it was taken out
        only because it was hidden, and a comment worth showing may be worth an answer."""
        item = self.item(item_id)
        if not item.hidden:
            if item.state == "new":  # a repeat click
                return Transition(item, False)
            raise QueueError(f"item {item_id} is not hidden on the platform")
        require(Action.UNHIDE, item_id, item.state)
        post = self._post_of(item)
        self._on_platform(connector.unhide, post, "unhide")
        changes = {"hidden": 0, "dismiss_reason": None, "assignee": None}
        return self._move_fresh(item_id, Action.UNHIDE, actor, changes, {"on_platform": "shown", "source": post.source})

    def _post_of(self, item: QueueItem) -> Post:
        post = self.store.posts.get_post(item.post_key)
        if post is None:
            raise QueueError(f"post {item.post_key} of item {item.id} is missing from the store")
        return post

    def _on_platform(self, call: Callable[[Post], None], post: Post, verb: str) -> None:
        """A moderation call to the platform; its refusals become the user's error message."""
        try:
            call(post)
        except ConnectorError as exc:  # not here, refused, or no answer: the item stays as it was
            raise QueueError(f"could not {verb} {post.key} on {post.platform}: {exc.message}") from None

    def _move_fresh(
        self, item_id: int, action: Action, actor: str, changes: dict[str, Any], detail: dict[str, Any]
    ) -> Transition:
        """`action` on the item as it is now: the platform call done, a click that landed
        meanwhile (a claim) must not leave the queue out of step with the platform."""
        for _ in range(3):
            try:
                return self._move(self.item(item_id), action, actor, changes, detail)
            except QueueConflict:
                continue
        raise QueueConflict(f"item {item_id} keeps changing; refresh and try again")

    def escalate(self, item_id: int, actor: str, note: str = "") -> Transition:
        item = self.item(item_id)
        if item.escalated:
            return Transition(item, False)
        result = self._move(
            item,
            Action.ESCALATE,
            actor,
            {"escalated": 1, "priority": "urgent"},
            {"note": note, "from_priority": item.priority},
        )
        self.store.items.add_feedback(item.post_key, "escalated", actor=actor, now=self.clock())
        return result

    def snooze(self, item_id: int, actor: str, until: datetime) -> Transition:
        item = self.item(item_id)
        return self._move(item, Action.SNOOZE, actor, {"snoozed_until": until}, {"until": until.isoformat()})

    def wake_due(self) -> list[int]:
        """Snoozed items whose time has come go back to new (called by the scheduler)."""
        now = self.clock()
        woken = []
        for item_id in self.store.items.snoozed_due(now=now):
            item = self.item(item_id)  # read again: a moderator may have acted since the query
            if item.state != "snoozed" or not item.snoozed_until or item.snoozed_until > now:
                continue
            try:
                self._move(item, Action.WAKE, "watcher", {"snoozed_until": None})
            except QueueConflict:  # a click landed in between: theirs stands, the rest still wake
                log.info("item %s changed while waking it; left as the moderator set it", item_id)
                continue
            woken.append(item_id)
        return woken

    def answered_elsewhere(self, item_id: int, *, url: str, actor: str = "watcher") -> Transition:
        """The brand answered on the platform itself: close the item. Not while a send of
        ours holds the lease: the reply seen may be that send's own, and the send records it."""
        with self.store.transaction():  # the lease check and the move agree
            item = self.item(item_id)
            if item.state in FINAL_STATES or self.store.replies.reply_lease_until(item_id, now=self.clock()):
                return Transition(item, False)
            return self._move(
                item,
                Action.ANSWERED_ELSEWHERE,
                actor,
                {"reply_url": url, "first_response_at": self.clock()},
                {"url": url},
            )

    def send(self, item_id: int, actor: str, connector: Connector, *, require_approval: bool = True) -> Transition:
        """Post the approved draft exactly once and record the outcome."""
        with self.store.transaction():  # one writer at a time across processes: the checks and the lease agree
            now = self.clock()  # read once the transaction has begun: waiting for the lock must not eat the lease
            until = now + send_lease(connector)
            item = self.item(item_id)
            if item.state == "replied":
                return Transition(item, False)
            require(Action.SEND, item_id, item.state)
            if item.state == "drafted" and require_approval:
                raise QueueError(f"cannot send item {item_id}: it is drafted and needs approval first")
            if item.state == "failed" and require_approval and not item.approved_by:
                raise QueueError(f"item {item_id} needs approval before it is sent")
            text = item.draft_text or ""
            key = reply_key(item_id, text)
            post = self.store.posts.get_post(item.post_key)
            if post is None:
                raise QueueError(f"post {item.post_key} of item {item_id} is missing from the store")
            reservation = self.store.replies.reserve_reply(key, item_id=item_id, post_key=post.key, text=text, now=now)
            if not self.store.replies.lease_reply(key, item_id=item_id, now=now, until=until):
                raise self._in_progress(item_id, now)
            # an earlier attempt, with this text or another, may have posted: look before posting
            uncertain = [
                r for r in self.store.replies.unsettled_replies(item_id) if r["key"] != key or not reservation["fresh"]
            ]
            if item.state != "sending":
                item = self._move(item, Action.SEND, actor, {"reply_key": key}).item
        try:
            if reservation["status"] == "sent":
                return self._finish_sent(item, key, reservation["platform_reply_id"], reservation["url"], actor)
            return self._post_once(item, key, post, text, connector, actor, look_first=bool(uncertain))
        except ReplyRejected as exc:  # the platform refused: this attempt posted nothing
            # but an attempt whose outcome was unknown stays unknown, so the next send still looks
            was_uncertain = not reservation["fresh"] and reservation["status"] in ("pending", "unknown")
            self.store.replies.finish_reply(
                key, status="unknown" if was_uncertain else "failed", now=self.clock(), error=exc.message
            )
            if uncertain:
                return self._fail(item, f"{exc.message}; an earlier attempt may have posted, so {LOOK_FIRST}", actor)
            return self._fail(item, exc.message, actor)
        except ConnectorError as exc:  # posted or not, we cannot tell: look before the next try
            self.store.replies.finish_reply(key, status="unknown", now=self.clock(), error=exc.message)
            return self._fail(item, f"{exc.message}; {LOOK_FIRST}", actor)
        finally:  # also after an unexpected error: the row stays pending, so the next send looks first
            self._release(key, until)

    def _release(self, key: str, until: datetime) -> None:
        """End our lease. A database error here (locked past the busy timeout) must not turn
        a reply that is posted and recorded into an error for the user: the lease then
        simply runs out at `until`."""
        try:
            self.store.replies.release_reply(key, until=until)
        except sqlite3.Error as exc:
            log.warning(
                "could not end the send lease of reply %s (%s); it runs out at %s UTC", key, exc, f"{until:%H:%M:%S}"
            )

    def _in_progress(self, item_id: int, now: datetime) -> SendInProgress:
        until = self.store.replies.reply_lease_until(item_id, now=now)
        free = (
            f" (if that watcher stopped, sending is possible again after {from_iso(until):%H:%M} UTC)" if until else ""
        )
        return SendInProgress(
            f"a reply to item {item_id} is being sent right now (another click or another watcher process); "
            f"check the card again shortly{free}"
        )

    def _post_once(
        self,
        item: QueueItem,
        key: str,
        post: Post,
        text: str,
        connector: Connector,
        actor: str,
        *,
        look_first: bool,
    ) -> Transition:
        # any brand reply counts: an earlier attempt may have had other words (the draft was edited since)
        posted, found = post_or_find(connector, post, text, look_first=look_first, match=None)
        return self._finish_sent(item, key, posted.native_id, posted.url, actor, found=found)

    def follow_up(self, item_id: int, key: str, text: str, actor: str, connector: Connector) -> Transition:
        """A further public reply to a replied item's post (an incident's closing statement),
        exactly once per `key` with the same machinery as `send`: the key is stored before
        the platform call, the send lease keeps two processes apart, and after an attempt
        whose outcome is unknown the platform is asked for this text before posting again
        (the first reply is there already, so only these words count). `changed` is False
        when the key was sent before; QueueError when the platform refused or could not say."""
        with self.store.transaction():
            now = self.clock()
            until = now + send_lease(connector)
            item = self.item(item_id)
            if item.state != "replied":
                raise QueueError(f"item {item_id} is {item.state}: a follow-up goes only to a replied post")
            post = self._post_of(item)
            reservation = self.store.replies.reserve_reply(key, item_id=item_id, post_key=post.key, text=text, now=now)
            if reservation["status"] == "sent":
                return Transition(item, False)
            if not self.store.replies.lease_reply(key, item_id=item_id, now=now, until=until):
                raise self._in_progress(item_id, now)
        uncertain = not reservation["fresh"] and reservation["status"] in ("pending", "unknown")
        try:
            posted, found = post_or_find(connector, post, text, look_first=uncertain, match=text)
        except (ReplyRejected, RateLimited) as exc:  # this attempt posted nothing
            status = "unknown" if uncertain else "failed"
            self.store.replies.finish_reply(key, status=status, now=self.clock(), error=exc.message)
            raise QueueError(f"the follow-up to item {item_id} was refused: {exc.message}") from None
        except ConnectorError as exc:
            self.store.replies.finish_reply(key, status="unknown", now=self.clock(), error=exc.message)
            raise QueueError(
                f"the follow-up to item {item_id} may not have posted: {exc.message}; {LOOK_FIRST}"
            ) from exc
        finally:
            self._release(key, until)
        now = self.clock()
        detail = {
            "key": key,
            "reply_id": posted.native_id,
            "url": posted.url,
            **({"found_on_platform": True} if found else {}),
        }
        with self.store.transaction():
            self.store.replies.finish_reply(
                key, status="sent", now=now, platform_reply_id=posted.native_id, url=posted.url
            )
            self.store.items.add_event(
                item_id,
                item.post_key,
                "followed_up",
                actor=actor,
                from_state=item.state,
                to_state=item.state,
                now=now,
                detail=detail,
            )
        return Transition(self.item(item_id), True)

    def has_uncertain_send(self, item: QueueItem) -> bool:
        """The item may have a reply of ours on the platform that we could not confirm: it
        was left `sending` by a send that stopped (its process died), or an open item had a
        send with an unknown outcome (a timeout; the draft may have been edited since)."""
        if item.state == "sending":
            return True
        return item.state in OPEN_STATES and bool(self.store.replies.unsettled_replies(item.id))

    def platform_reply_seen(self, item_id: int, found: PostedReply | None, *, actor: str = "watcher") -> Transition:
        """The native-reply check's answer for an open item: `found` is the brand's reply to
        its post on the platform, or None. Decided in one transaction, on the item as it is
        now, not as it was before the platform was asked:
        - a send holds the lease: unchanged (that send records its own outcome);
        - its send is uncertain (`has_uncertain_send`): replied when `found` (found on the
          platform); an item left `sending` by a dead send with nothing there goes to failed,
          retryable (the next send looks first);
        - otherwise `found` closes it as answered elsewhere."""
        now = self.clock()
        with self.store.transaction():
            item = self.item(item_id)
            if item.state not in OPEN_STATES or self.store.replies.reply_lease_until(item_id, now=now):
                return Transition(item, False)
            key = item.reply_key
            if key and self.has_uncertain_send(item):
                if found is not None:
                    return self._finish_sent(item, key, found.native_id, found.url, actor, found=True)
                if item.state != "sending":
                    return Transition(item, False)
                message = f"the send was interrupted and no reply to the post is on the platform yet; {LOOK_FIRST}"
                self.store.replies.finish_reply(key, status="unknown", now=now, error=message)
                return self._fail(item, message, actor)
            if found is None:
                return Transition(item, False)
            return self.answered_elsewhere(item_id, url=found.url, actor=actor)

    def _finish_sent(
        self, item: QueueItem, key: str, reply_id: str, url: str, actor: str, *, found: bool = False
    ) -> Transition:
        now = self.clock()
        detail: dict[str, Any] = {"reply_id": reply_id, "url": url}
        if found:  # an earlier, uncertain attempt's reply (or one made on the platform), not this call's
            detail["found_on_platform"] = True
        with self.store.transaction():
            self.store.replies.finish_reply(key, status="sent", now=now, platform_reply_id=reply_id, url=url)
            self.store.replies.supersede_replies(
                item.id, keep=key, now=now, note=f"the item was replied with {reply_id}"
            )
            fresh = self.item(item.id)
            result = self._move(
                fresh,
                Action.REPLIED,
                actor,
                {"reply_url": url, "first_response_at": fresh.first_response_at or now, "last_error": None},
                detail,
            )
            self.store.items.add_feedback(item.post_key, "replied", actor=actor, now=now)
        return result

    def _fail(self, item: QueueItem, message: str, actor: str) -> Transition:
        fresh = self.item(item.id)
        return self._move(fresh, Action.SEND_FAILED, actor, {"last_error": message}, {"error": message})
