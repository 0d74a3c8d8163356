"""Deliver outbox rows to Slack: cards, their context threads, in-place updates,
escalation copies, SLA reminders and the hourly overflow summary.

Nothing is posted twice. A posted message is recorded (item -> channel/ts) in
the store; every post carries message metadata naming its outbox row, and a row
retried after an unclear outcome (a crash, a 500 after Slack stored the message)
first looks for that metadata in the channel before posting again. 429 and 5xx
become `DeliveryRetry` (Retry-After honoured) so the row waits in the outbox, and the
outbox is held until then; a channel the bot cannot post to holds only that channel's
rows. Posts are paced to about one per second per channel.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watcher.config import Config
from watcher.core.item import OutboxRow, QueueItem
from watcher.core.post import Post, utc_now
from watcher.notify.outbox import (
    LEASE_SECONDS,
    RETRY_CAP_SECONDS,
    DeliveryFailed,
    DeliveryRetry,
    FlushReport,
    OutboxHold,
    flush_outbox,
)
from watcher.slack.cards import (
    CardView,
    card_blocks,
    card_text,
    context_blocks,
    escalation_blocks,
    history_blocks,
    overflow_blocks,
    reminder_text,
)
from watcher.slack.client import FIXABLE_ERRORS, channel_id_by_name, classify, slack_error
from watcher.slack.incident_outbox import deliver_incident_card, deliver_incident_update
from watcher.slack.sla import BusinessHours, sla_state
from watcher.store import Store

log = logging.getLogger(__name__)

METADATA_EVENT = "watcher_outbox"


def card_key(item_id: int) -> str:
    return f"card:{item_id}"


def enqueue_card_update(store: Store, item: QueueItem, *, now: datetime, reason: str = "") -> int | None:
    """Ask for the card of `item` to be redrawn (one row per item version and reason: idempotent)."""
    return store.outbox.enqueue_outbox(
        "card_update",
        f"card_update:{item.id}:{item.version}" + (f":{reason}" if reason else ""),
        {"item_id": item.id, "post_key": item.post_key},
        now=now,
        channel=item.channel or "",
        item_id=item.id,
    )


class SlackNotifier:
    """A `watcher.notify.outbox.Notifier` for Slack. Give it a WebClient built with
    `retry_handlers=[]` (see `make_client`): the outbox does the retrying, and the
    SDK's own retry after a dropped connection could post a card twice."""

    def __init__(
        self,
        store: Store,
        client: WebClient,
        config: Config,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        can_hide: Callable[[Post], bool] = lambda _post: False,
    ) -> None:
        self.store = store
        self.client = client
        self.config = config
        self.slack = config.slack
        self.hours = BusinessHours.from_config(config.slack, config.brand.timezone)
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.can_hide = can_hide  # whether a card offers Hide (the runtime asks the post's connector)
        self._last_post: dict[str, float] = {}
        self._lock = threading.RLock()
        self._delivered: dict[int, str] = {}
        self.hold = OutboxHold()  # a service-wide wait outlives one flush (see flush_outbox)
        self._unseen: dict[str, datetime] = {}  # channel name -> until when it is not looked up again
        # channel (as addressed) -> until when, and why, it refuses: rows for it that the flush
        # cannot group by their outbox channel (the default channel's, say) do not each ask Slack
        self._refused: dict[str, tuple[datetime, str]] = {}

    # --- Notifier ------------------------------------------------------------------

    def deliver(self, row: OutboxRow) -> str:
        handlers: dict[str, Callable[[OutboxRow], str]] = {
            "card": self._card,
            "card_update": self._card_update,
            "thread": self._thread,
            "escalation": self._escalation,
            "reminder": self._reminder,
            "overflow": self._overflow,
            "note": self._note,
            "incident": lambda row: deliver_incident_card(self, row),
            "incident_update": lambda row: deliver_incident_update(self, row),
        }
        handler = handlers.get(row.kind, self._message)
        # one delivery at a time, and never of a row another flush already delivered:
        # two flushes in one process (a scheduler job and a click, say) cannot post twice
        with self._lock:
            if row.id in self._delivered:  # delivered by a flush that has not marked it yet
                return self._delivered[row.id]
            done = self.store.outbox.outbox_row(row.id)
            if done is not None and done["status"] == "sent":
                return str(done["ref"])
            now = self.clock()
            # flush_outbox leases before it calls; a direct delivery (a redraw) leases here
            if not row.leased and not self.store.outbox.lease_outbox(
                row.id, now=now, until=now + timedelta(seconds=LEASE_SECONDS), owner=self.hold.owner
            ):
                raise DeliveryRetry(f"outbox row {row.id} is being delivered elsewhere", after_seconds=LEASE_SECONDS)
            ref = self._deliver(handler, row)
            self._delivered[row.id] = ref
            if len(self._delivered) > 10000:
                self._delivered.pop(next(iter(self._delivered)))
            return ref

    def _deliver(self, handler: Callable[[OutboxRow], str], row: OutboxRow) -> str:
        try:
            return handler(row)
        except SlackApiError as exc:
            error = classify(exc, row, default_channel=self.slack.channel)
            if isinstance(error, DeliveryRetry) and error.channel:  # asked again only after the wait
                until = self.clock() + timedelta(seconds=error.after_seconds)
                self._refused[error.channel] = (until, FIXABLE_ERRORS[slack_error(exc)])
            raise error from None
        except OSError as exc:  # URLError, timeouts, refused connections
            raise DeliveryRetry(
                f"Slack is unreachable ({exc.__class__.__name__}) delivering outbox row {row.id}; will retry",
                after_seconds=min(300, 15 * (row.attempts + 1)),
            ) from None

    # --- building blocks --------------------------------------------------------------

    def view(self, item_id: int, *, overflow_note: str = "") -> tuple[CardView, Post]:
        item = self.store.items.get_item(item_id)
        if item is None:
            raise DeliveryFailed(f"queue item {item_id} no longer exists")
        post = self.store.posts.get_post(item.post_key)
        if post is None:
            raise DeliveryFailed(f"post {item.post_key} of item {item_id} is missing from the store")
        view = CardView(
            item=item,
            post=post,
            triage=self.store.posts.post_triage(post.key),
            sla=sla_state(item, slack=self.slack, hours=self.hours, now=self.clock()),
            approval_required=item.priority in self.slack.approval_required,
            events=tuple(self.store.items.events_for_item(item_id)),
            overflow_note=overflow_note,
            can_hide=self.can_hide(post),
            incident=self.store.incidents.ref_of(post.key),
            open_incidents=self.store.incidents.open_refs(),
        )
        return view, post

    def _unless_refused(self, channel: str) -> None:
        """A channel that refused a moment ago (bot not in it) is not asked again until its
        wait ends: the row waits with the one that was refused."""
        refused = self._refused.get(channel)
        if refused is None:
            return
        until, reason = refused
        now = self.clock()
        if now >= until:
            del self._refused[channel]
            return
        raise DeliveryRetry(
            f"not sent to channel {channel}, which Slack refused a moment ago: {reason}",
            after_seconds=(until - now).total_seconds(),
            channel=channel,
        )

    def _pace(self, channel: str) -> None:
        """About `messages_per_second` posts per channel, as Slack asks."""
        gap = 1.0 / self.slack.messages_per_second
        last = self._last_post.get(channel)
        if last is not None:
            wait = gap - (self.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        self._last_post[channel] = self.monotonic()

    def _post(
        self,
        row: OutboxRow,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str = "",
        look_first: bool = True,
    ) -> tuple[str, str]:
        """Post once: after an earlier attempt of this row, look for it first (unless the
        caller just did: `look_first=False`). Returns (channel id, ts)."""
        self._unless_refused(channel)
        earlier = self._earlier_copy(row, channel, thread_ts) if look_first else None
        if earlier is not None:
            return earlier
        self._pace(channel)
        response = self.client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts or None,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": row.id, "kind": row.kind}},
        )
        channel_id = str(response["channel"])
        if channel_id != channel and self.store.slack.slack_message(f"channel:{channel}") is None:
            self.store.slack.save_slack_message(
                f"channel:{channel}", item_id=None, kind="channel", channel=channel_id, ts="", now=self.clock()
            )
        return channel_id, str(response["ts"])

    def _earlier_copy(self, row: OutboxRow, channel: str, thread_ts: str = "") -> tuple[str, str] | None:
        """(channel id, ts) of the message an earlier attempt of this row left in Slack (a 500
        after Slack stored it, a crash before it was marked sent), or None."""
        if row.attempts == 0:
            return None
        self._unless_refused(channel)  # a channel that refused a moment ago is not searched either
        channel_id = self._channel_id(channel)
        found = self._find_posted({row.id}, channel_id, thread_ts) if channel_id else None
        if found is None:
            return None
        log.info("outbox row %s was already posted as %s; not posting again", row.id, found)
        return channel_id, found

    def _channel_id(self, channel: str) -> str:
        """History needs a channel id; a name (#care) is resolved from an earlier post to it."""
        if not channel.startswith("#"):
            return channel
        now = self.clock()
        # not found a moment ago: not every retry scans the list
        if now < self._unseen.get(channel, now) and self.store.slack.slack_message(f"channel:{channel}") is None:
            return ""
        found = channel_id_by_name(self.client, self.store, channel, now=now)
        if not found:
            log.warning("channel %s is not visible to the bot; cannot look for an earlier copy there", channel)
            self._unseen[channel] = now + timedelta(seconds=RETRY_CAP_SECONDS)
        return found

    def _find_posted(self, outbox_ids: set[int], channel: str, thread_ts: str) -> str | None:
        """The ts of a message in `channel` (or the thread) posted for one of `outbox_ids`."""
        self._unless_refused(channel)
        if thread_ts:
            response = self.client.conversations_replies(
                channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
            )
        else:
            response = self.client.conversations_history(channel=channel, include_all_metadata=True, limit=200)
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and (meta.get("event_payload") or {}).get("outbox_id") in outbox_ids
            ):
                return str(message["ts"])
        return None

    def _update(self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None:
        self._unless_refused(channel)
        self._pace(channel)
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    # --- kinds --------------------------------------------------------------------

    def _card(self, row: OutboxRow) -> str:
        item_id = int(row.payload["item_id"])
        existing = self.store.slack.slack_message(card_key(item_id))
        if existing is not None:
            return existing["ts"] or f"overflow:{existing['bucket']}"
        view, _ = self.view(item_id)
        item = view.item
        channel = row.channel or item.channel or self.slack.channel
        now = self.clock()
        self.store.items.set_sla_due(item_id, view.sla.due_at)
        # an item closed before its card went out is still posted, showing how it was closed:
        # nothing the pipeline queued vanishes unseen
        earlier = self._earlier_copy(row, channel)
        if earlier is not None:
            # the card is in the channel already (whatever the hourly cap says now), drawn as the
            # item was then; people may have acted on it since (a claim from its buttons), and the
            # updates that asked for a redraw were superseded while it had no address: redraw it
            channel_id, ts = earlier
            self._update(channel_id, ts, text=card_text(view), blocks=card_blocks(view))
        elif self._over_cap(item, channel, now):
            return self._fold_into_overflow(item, channel, now)
        else:
            channel_id, ts = self._post(row, channel, text=card_text(view), blocks=card_blocks(view), look_first=False)
        with self.store.transaction():  # the card's address and its follow-ups: all or nothing
            # the bucket keeps the channel as addressed (a rule may route by name) for the hourly cap
            self.store.slack.save_slack_message(
                card_key(item_id), item_id=item_id, kind="card", channel=channel_id, ts=ts, now=now, bucket=channel
            )
            self.store.outbox.enqueue_outbox(
                "thread",
                f"thread:{item_id}",
                {"item_id": item_id, "post_key": item.post_key},
                now=now,
                channel=channel_id,
                item_id=item_id,
            )
            if (item.priority == "urgent" or item.escalated) and self.slack.escalation_channel:
                self.enqueue_escalation(item, now=now)
        return ts

    def enqueue_escalation(self, item: QueueItem, *, now: datetime) -> None:
        if self.slack.escalation_channel:
            self.store.outbox.enqueue_outbox(
                "escalation",
                f"escalation:{item.id}",
                {"item_id": item.id, "post_key": item.post_key},
                now=now,
                channel=self.slack.escalation_channel,
                item_id=item.id,
            )

    def _over_cap(self, item: QueueItem, channel: str, now: datetime) -> bool:
        if item.priority == "urgent" or item.escalated:
            return False
        hour = now.replace(minute=0, second=0, microsecond=0)
        return self.store.slack.count_slack_messages(channel, "card", since=hour) >= self.slack.hourly_cap

    def _fold_into_overflow(self, item: QueueItem, channel: str, now: datetime) -> str:
        bucket = f"{channel}:{now:%Y-%m-%dT%H}"
        self.store.slack.save_slack_message(
            card_key(item.id), item_id=item.id, kind="overflowed", channel=channel, ts="", bucket=bucket, now=now
        )
        self.store.outbox.enqueue_outbox(
            "overflow",
            f"overflow:{bucket}:{item.id}",
            {"bucket": bucket},
            now=now,
            channel=channel,
            item_id=item.id,
        )
        return f"overflow:{bucket}"

    def _overflow(self, row: OutboxRow) -> str:
        bucket = row.payload["bucket"]
        channel = bucket.rsplit(":", 1)[0]
        entries = []
        for item_id in self.store.slack.slack_bucket_items(bucket):
            item = self.store.items.get_item(item_id)
            post = self.store.posts.get_post(item.post_key) if item else None
            if item is not None and post is not None:
                entries.append((item, post))
        blocks = overflow_blocks(entries, cap=self.slack.hourly_cap, hour=bucket.rsplit("T", 1)[-1] + ":00")
        text = f"{len(entries)} more item(s) past the hourly card cap"
        summary = self.store.slack.slack_message(f"overflow:{bucket}") or self._unrecorded_summary(row, bucket, channel)
        if summary is not None:
            self._update(summary["channel"], summary["ts"], text=text, blocks=blocks)
            return summary["ts"]
        channel_id, ts = self._post(row, channel, text=text, blocks=blocks)
        self.store.slack.save_slack_message(
            f"overflow:{bucket}", item_id=None, kind="overflow", channel=channel_id, ts=ts, now=self.clock()
        )
        return ts

    def _unrecorded_summary(self, row: OutboxRow, bucket: str, channel: str) -> dict[str, Any] | None:
        """The bucket's summary as another of its rows posted it without learning its ts (a
        500 after Slack stored it, a crash), found by metadata and recorded: one summary per
        bucket, never a second one beside it."""
        others = set(self.store.outbox.outbox_tried_ids(f"overflow:{bucket}:")) - {row.id}
        channel_id = self._channel_id(channel) if others else ""
        ts = self._find_posted(others, channel_id, "") if channel_id else None
        if ts is None:
            return None
        log.info("the overflow summary of %s was already posted as %s; updating it", bucket, ts)
        self.store.slack.save_slack_message(
            f"overflow:{bucket}", item_id=None, kind="overflow", channel=channel_id, ts=ts, now=self.clock()
        )
        return self.store.slack.slack_message(f"overflow:{bucket}")

    def _card_update(self, row: OutboxRow) -> str:
        item_id = int(row.payload["item_id"])
        card = self.store.slack.slack_message(card_key(item_id))
        if card is None:
            return "superseded: the card is not posted yet and will show the current state"
        if card["kind"] != "card":
            return "overflowed: no card to update"
        view, _ = self.view(item_id)
        self._update(card["channel"], card["ts"], text=card_text(view), blocks=card_blocks(view))
        self.store.slack.touch_slack_message(card_key(item_id), now=self.clock())
        copy = self.store.slack.slack_message(f"escalation:{item_id}")
        if copy is not None:  # the escalation channel sees the outcome too
            permalink = str(
                self.client.chat_getPermalink(channel=card["channel"], message_ts=card["ts"]).get("permalink") or ""
            )
            blocks = escalation_blocks(view, group=self.slack.escalation_group, permalink=permalink)
            self._update(copy["channel"], copy["ts"], text=f"Escalated: {card_text(view)}", blocks=blocks)
        return card["ts"]

    def _thread(self, row: OutboxRow) -> str:
        item_id = int(row.payload["item_id"])
        card = self.store.slack.slack_message(card_key(item_id))
        if card is None or card["kind"] != "card":
            return "skipped: no card"
        view, post = self.view(item_id)
        blocks = context_blocks(post, self.store.posts.conversation_posts(post))
        blocks += [{"type": "divider"}, *history_blocks(self.store.slack.customer_history(post.key))]
        _, ts = self._post(
            row, card["channel"], text="Context and customer history", blocks=blocks, thread_ts=card["ts"]
        )
        return ts

    def _escalation(self, row: OutboxRow) -> str:
        item_id = int(row.payload["item_id"])
        view, _ = self.view(item_id)
        card = self.store.slack.slack_message(card_key(item_id))
        permalink = ""
        if card is not None and card["kind"] == "card":
            permalink = str(
                self.client.chat_getPermalink(channel=card["channel"], message_ts=card["ts"]).get("permalink") or ""
            )
        channel = row.channel or self.slack.escalation_channel
        blocks = escalation_blocks(view, group=self.slack.escalation_group, permalink=permalink)
        text = f"Escalated: {card_text(view)}"
        earlier = self._earlier_copy(row, channel)
        if earlier is not None:  # card updates skipped this copy while it had no address: redraw it
            self._update(*earlier, text=text, blocks=blocks)
        channel_id, ts = earlier or self._post(row, channel, text=text, blocks=blocks, look_first=False)
        self.store.slack.save_slack_message(
            f"escalation:{item_id}", item_id=item_id, kind="escalation", channel=channel_id, ts=ts, now=self.clock()
        )
        return ts

    def _reminder(self, row: OutboxRow) -> str:
        item_id = int(row.payload["item_id"])
        item = self.store.items.get_item(item_id)
        if item is None or item.state != "new":
            return "skipped: claimed or closed before the reminder went out"
        card = self.store.slack.slack_message(card_key(item_id))
        group = self.slack.reminder_group or self.slack.escalation_group
        text = reminder_text(item, late_minutes=int(row.payload.get("late_minutes", 0)), group=group)
        if card is not None and card["kind"] == "card":
            _, ts = self._post(row, card["channel"], text=text, thread_ts=card["ts"])
        else:
            _, ts = self._post(row, row.channel or self.slack.channel, text=text)
        return ts

    def _note(self, row: OutboxRow) -> str:
        """A line in the card's thread (review requests, rejections, failures)."""
        card = self.store.slack.slack_message(card_key(int(row.payload["item_id"])))
        if card is None or card["kind"] != "card":
            return "skipped: no card"
        _, ts = self._post(row, card["channel"], text=str(row.payload["text"]), thread_ts=card["ts"])
        return ts

    def _message(self, row: OutboxRow) -> str:
        """Any other kind with a `text` (digests, say) is posted as written."""
        payload = row.payload
        if not isinstance(payload.get("text"), str):
            raise DeliveryFailed(f"outbox row {row.id}: kind {row.kind!r} has no text for Slack")
        channel = row.channel or self.slack.channel
        _, ts = self._post(row, channel, text=payload["text"], blocks=payload.get("blocks"))
        return ts


def flush_slack(
    store: Store, notifier: SlackNotifier, *, clock: Callable[[], datetime] = utc_now, rounds: int = 5
) -> FlushReport:
    """`flush_outbox` until quiet: delivering a card queues its thread and escalation
    rows, which go out in the next round rather than the next scheduler tick."""
    sent = retrying = failed = 0
    held = False
    for _ in range(rounds):
        report = flush_outbox(store, notifier, clock=clock)
        sent, retrying, failed = sent + report.sent, retrying + report.retrying, failed + report.failed
        held = held or report.held
        # a round that sent nothing is the last (after the service asked to wait, the next one
        # is held); a channel that refused does not stop the others' threads going out
        if not report.sent:
            break
    return FlushReport(sent=sent, retrying=retrying, failed=failed, held=held)
