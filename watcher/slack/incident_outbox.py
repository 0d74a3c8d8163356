"""Delivering incident cards: posted once (the outbox row's dedupe key, and a look for an
earlier copy after an unclear attempt), then redrawn in place as posts join, statements
are written and approved, and answers go out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from watcher.config import SlackConfig
from watcher.core.incident import StatementKind
from watcher.core.item import OutboxRow
from watcher.incidents.fanout import progress
from watcher.incidents.promises import PromiseList, bundled_promises, warning_lines
from watcher.notify.outbox import DeliveryFailed
from watcher.slack.incident_cards import IncidentView, incident_blocks, incident_text
from watcher.store import Store


class SlackNotifier(Protocol):
    """What an incident card needs of watcher.slack.outbox's notifier, which hands itself in
    (declared here so the two modules do not import each other)."""

    store: Store
    slack: SlackConfig
    clock: Callable[[], datetime]

    def _earlier_copy(self, row: OutboxRow, channel: str, thread_ts: str = "") -> tuple[str, str] | None: ...

    def _post(
        self,
        row: OutboxRow,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str = "",
        look_first: bool = True,
    ) -> tuple[str, str]: ...

    def _update(self, channel: str, ts: str, *, text: str, blocks: list[dict[str, Any]]) -> None: ...


def incident_card_key(incident_id: int) -> str:
    return f"incident:{incident_id}"


def incident_view(store: Store, incident_id: int, promises: PromiseList | None = None) -> IncidentView:
    incident = store.incidents.get(incident_id)
    if incident is None:
        raise DeliveryFailed(f"incident {incident_id} no longer exists")
    posts = store.incidents.posts(incident_id)
    statements = store.incidents.statements(incident_id, StatementKind.FIRST)
    checker = promises or bundled_promises()
    warnings = [
        f"{lang}: {line}"
        for lang, s in sorted(statements.items())
        for line in warning_lines(checker.check(s.text, lang))
    ]
    answered, of = progress(posts)
    closing = store.incidents.statements(incident_id, StatementKind.CLOSING)
    warnings += [
        f"closing {lang}: {line}"
        for lang, s in sorted(closing.items())
        for line in warning_lines(checker.check(s.text, lang))
    ]
    followups = store.incidents.followups_sent(incident_id)
    return IncidentView(incident, posts, statements, warnings, answered, of, closing, followups)


def deliver_incident_card(notifier: SlackNotifier, row: OutboxRow) -> str:
    incident_id = int(row.payload["incident_id"])
    store = notifier.store
    existing = store.slack.slack_message(incident_card_key(incident_id))
    if existing is not None:
        return str(existing["ts"])
    view = incident_view(store, incident_id)
    channel = row.channel or notifier.slack.channel
    text, blocks = incident_text(view), incident_blocks(view)
    earlier = notifier._earlier_copy(row, channel)
    if earlier is not None:  # posted by an attempt that did not learn its ts: redraw it as it is now
        channel_id, ts = earlier
        notifier._update(channel_id, ts, text=text, blocks=blocks)
    else:
        channel_id, ts = notifier._post(row, channel, text=text, blocks=blocks, look_first=False)
    store.slack.save_slack_message(
        incident_card_key(incident_id), item_id=None, kind="incident", channel=channel_id, ts=ts, now=notifier.clock()
    )
    return ts


def deliver_incident_update(notifier: SlackNotifier, row: OutboxRow) -> str:
    incident_id = int(row.payload["incident_id"])
    card = notifier.store.slack.slack_message(incident_card_key(incident_id))
    if card is None:
        return "superseded: the card is not posted yet and will show the current state"
    view = incident_view(notifier.store, incident_id)
    notifier._update(card["channel"], card["ts"], text=incident_text(view), blocks=incident_blocks(view))
    notifier.store.slack.touch_slack_message(incident_card_key(incident_id), now=notifier.clock())
    return str(card["ts"])
