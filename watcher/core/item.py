"""Typed rows of the queue and the outbox: what the store returns and the queue, Slack,
notifications and the CLI pass around (the store builds them, so they live in core)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from watcher.core.times import iso
from watcher.core.vocab import Priority, QueueState


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One queue item as stored; `version` is the compare-and-set counter of its changes."""

    id: int
    post_key: str
    state: QueueState
    priority: Priority
    score: int
    channel: str
    created_at: datetime
    version: int
    assignee: str | None = None
    escalated: bool = False
    repeat_count: int = 0
    draft_text: str | None = None
    draft_note: str | None = None
    drafted_by: str | None = None
    approved_by: str | None = None
    reply_key: str | None = None
    reply_url: str | None = None
    dismiss_reason: str | None = None
    hidden: bool = False  # hidden on the platform by a moderator
    snoozed_until: datetime | None = None
    sla_due_at: datetime | None = None
    first_response_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A line of the ranked queue: an item with what a list shows of its post and author."""

    item: QueueItem
    platform: str
    text: str
    created_at: datetime  # the post's
    url: str | None = None
    lang: str | None = None
    reasons: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    sentiment: float | None = None
    handle: str | None = None
    followers: int | None = None
    # where the ranking stands after this row: the store pages on from it (queue_rows `after`)
    rank_key: tuple[int, int, str, int] = field(default=(0, 0, "", 0), repr=False, compare=False)

    def as_json(self) -> dict[str, Any]:
        """The line of `watcher queue --json`: plain JSON values, times as ISO text."""
        item = self.item
        out: dict[str, Any] = {name: getattr(item, name) for name in _JSON_ITEM_FIELDS}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("item", "rank_key")})
        out["item_created_at"] = item.created_at
        return {
            k: iso(v) if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v for k, v in out.items()
        }


# what a queue line tells of its item
_JSON_ITEM_FIELDS = (
    "id", "post_key", "state", "priority", "score", "assignee", "repeat_count", "sla_due_at", "channel", "escalated",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A notification waiting in the outbox; `leased` says the flush took its lease already."""

    id: int
    kind: str
    dedupe_key: str
    channel: str
    item_id: int | None
    payload: Mapping[str, Any]
    attempts: int = 0
    ref: str | None = None
    leased: bool = False
