"""Detection and joining, inside the pipeline's transaction.

A burst (`min_posts` posts with one incident intent, such as outage, within
`window_minutes`, on any platform and in any language) becomes one suggested incident
and one "incident suggested" card (an outbox row: exactly once, like every card). While
an incident is open, arriving posts with its intent join it: their queue items are made
without a card of their own, and the incident card's counters are redrawn. A post urgent
for another reason (safety, legal, a data breach, a VIP) keeps its card, and its thread
names the incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rules.triage import INTENT_LABELS
from watcher.core.incident import ACTIVE_INCIDENT_STATES, Incident, IncidentsConfig, IncidentState
from watcher.core.post import Post
from watcher.store import NewItem, Store

CARD_KIND = "incident"
UPDATE_KIND = "incident_update"


@dataclass(frozen=True, slots=True)
class Arrival:
    """A fresh post and what triage said of it."""

    post: Post
    lang: str
    intents: tuple[str, ...]
    tags: tuple[str, ...] = ()


def incident_title(intent: str) -> str:
    return f"{INTENT_LABELS.get(intent, intent.replace('_', ' ')).capitalize()} reports"


def card_dedupe_key(incident_id: int) -> str:
    return f"{CARD_KIND}:{incident_id}"


def enqueue_incident_update(store: Store, incident: Incident, *, now: datetime, reason: str) -> int | None:
    """Ask for the incident card to be redrawn (one row per reason: idempotent)."""
    return store.outbox.enqueue_outbox(
        UPDATE_KIND,
        f"{UPDATE_KIND}:{incident.id}:{reason}",
        {"incident_id": incident.id},
        now=now,
    )


class IncidentDesk:
    """What the pipeline asks about incidents for each batch."""

    def __init__(self, store: Store, settings: IncidentsConfig, *, channel: str) -> None:
        self.store = store
        self.settings = settings
        self.channel = settings.channel or channel

    def keeps_card(self, arrival: Arrival) -> bool:
        """Urgent for another reason: it keeps its own card while it joins an incident."""
        return bool(set(arrival.intents) & set(self.settings.own_card_intents)) or bool(
            set(arrival.tags) & set(self.settings.own_card_tags)
        )

    def queue(self, arrivals: Sequence[Arrival], items: Sequence[NewItem], *, now: datetime) -> dict[str, int]:
        """Create the batch's queue items (as `QueueTables.create_queue_items`, card rows
        included), with posts joining open incidents made silent; then suggest incidents
        from bursts. Returns post key -> new item id."""
        if not self.settings.enabled:
            return self.store.items.create_queue_items(items, now=now, card_kind="card")
        with self.store.transaction():
            joined = self._join(arrivals, now=now)
            silent = {key for key, (incident, own) in joined.items() if incident.is_open and not own}
            made = [replace(i, notify=False) if i.post_key in silent else i for i in items]
            created = self.store.items.create_queue_items(made, now=now, card_kind="card")
            for key, (incident, own) in joined.items():
                if own and incident.is_open and key in created:
                    self._note_incident(created[key], key, incident, now=now)
            self._suggest(arrivals, now=now)
        return created

    def _active(self, now: datetime) -> dict[str, Incident]:
        """Intent -> the newest incident that takes its posts: suggested or open, or ignored
        within the window (an ignored burst is not suggested again while it goes on)."""
        found: dict[str, Incident] = {}
        since = now - timedelta(minutes=self.settings.window_minutes)
        for incident in self.store.incidents.active((*ACTIVE_INCIDENT_STATES, IncidentState.IGNORED.value)):
            if incident.state == IncidentState.IGNORED and incident.updated_at < since:
                continue
            found.setdefault(incident.intent, incident)
        return found

    def _join(self, arrivals: Sequence[Arrival], *, now: datetime) -> dict[str, tuple[Incident, bool]]:
        active = self._active(now)
        joined: dict[str, tuple[Incident, bool]] = {}
        for arrival in arrivals:
            incident = next((active[i] for i in arrival.intents if i in active), None)
            if incident is not None:
                joined[arrival.post.key] = (incident, self.keeps_card(arrival))
        by_incident: dict[int, list[str]] = {}
        for key, (incident, _) in joined.items():
            by_incident.setdefault(incident.id, []).append(key)
        for incident_id, keys in by_incident.items():
            own = [k for k in keys if joined[k][1]]
            added = self.store.incidents.add_posts(incident_id, keys, now=now, own_card=own)
            incident = joined[keys[0]][0]
            if added and incident.state != IncidentState.IGNORED:
                count = self.store.incidents.post_count(incident_id)
                enqueue_incident_update(self.store, incident, now=now, reason=f"posts{count}")
        return joined

    def _note_incident(self, item_id: int, post_key: str, incident: Incident, *, now: datetime) -> None:
        self.store.outbox.enqueue_outbox(
            "note",
            f"incident_note:{post_key}",
            {
                "item_id": item_id,
                "post_key": post_key,
                "text": f"Part of incident #{incident.id} ({incident.title}); this post keeps its own card.",
            },
            now=now,
            item_id=item_id,
        )

    def _suggest(self, arrivals: Sequence[Arrival], *, now: datetime) -> None:
        active = self._active(now)
        window = timedelta(minutes=self.settings.window_minutes)
        for intent in self.settings.intents:
            times = [a.post.created_at for a in arrivals if intent in a.intents]
            if not times or intent in active:
                continue
            keys = burst(
                self.store.incidents.unlinked_recent(intent, since=min(times) - window), window, self.settings.min_posts
            )
            if not keys:
                continue
            incident_id = self.store.incidents.create(
                title=incident_title(intent),
                intent=intent,
                state=IncidentState.SUGGESTED,
                actor="watcher",
                now=now,
                detail={"posts": len(keys), "window_minutes": self.settings.window_minutes},
            )
            self.store.incidents.add_posts(incident_id, keys, now=now)
            self.store.outbox.enqueue_outbox(
                CARD_KIND, card_dedupe_key(incident_id), {"incident_id": incident_id}, now=now, channel=self.channel
            )


def burst(posts: Sequence[tuple[str, datetime]], window: timedelta, min_posts: int) -> list[str]:
    """The keys from the first `min_posts` posts (oldest first) that fall within one
    `window` to the last: a batch of a backfill may hold a burst and the hours after it."""
    start = 0
    for end, (_, created) in enumerate(posts):
        while created - posts[start][1] > window:
            start += 1
        if end - start + 1 >= min_posts:
            return [key for key, _ in posts[start:]]
    return []
