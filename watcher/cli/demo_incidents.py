"""The demo's incident: on the outage morning the burst is suggested, a demo agent
opens it at once, and later outage posts join it instead of making cards."""

from __future__ import annotations

from collections import Counter

from watcher.core.incident import IncidentState
from watcher.incidents.actions import Incidents
from watcher.incidents.promises import PromiseList
from watcher.store import Store

# the sample brand is small: four outage posts within half an hour are its burst
DEMO_INCIDENTS = {"min_posts": 4, "window_minutes": 30}


def open_suggestions(store: Store, incidents: Incidents | None = None) -> None:
    """What an agent does with the suggested card: Open incident."""
    suggested = store.incidents.active((IncidentState.SUGGESTED.value,))
    if suggested:
        desk = incidents or Incidents(store, PromiseList.load())
        for incident in suggested:
            desk.move(incident.id, IncidentState.INVESTIGATING, "demo agent")


def incident_lines(store: Store) -> list[str]:
    """Per incident: how it formed, and the cards and clicks it saved."""
    lines = []
    for incident in store.incidents.active(
        (IncidentState.INVESTIGATING.value, IncidentState.IDENTIFIED.value, IncidentState.MONITORING.value)
    ):
        posts = store.incidents.posts(incident.id)
        carded = store.incidents.carded(incident.id)
        first = min(p.created_at for p in posts)
        langs = ", ".join(f"{lang} {n}" for lang, n in Counter(p.lang for p in posts).most_common())
        platforms = ", ".join(f"{name} {n}" for name, n in Counter(p.platform for p in posts).most_common())
        answerable = sum(1 for p in posts if not p.own_card)
        lines.append(
            f"Incident #{incident.id} {incident.title}: formed {first:%d %b %H:%M} UTC, {len(posts)} posts "
            f"({langs}; {platforms}). Cards in Slack: {len(posts)} without it, {carded + 1} with it "
            f"(cards before it was opened, own-card posts, the incident card); "
            f"one approved statement answers {answerable} posts per click of Answer everyone."
        )
    return lines
