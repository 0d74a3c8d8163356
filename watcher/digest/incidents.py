"""Incidents in a digest: each incident open during the period, how long it lasted,
how many customers it touched, and how fast the first statement and the fix came."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watcher.core.incident import Incident
from watcher.store import Store


@dataclass(frozen=True)
class IncidentFigures:
    incident: Incident
    posts: int
    customers: int  # distinct authors per platform
    answered: int
    duration_seconds: float  # until resolved, or until the digest was made
    to_first_statement_seconds: float | None
    to_resolution_seconds: float | None
    followups: int = 0  # closing statements sent


def incident_figures(store: Store, *, since: datetime, until: datetime, now: datetime) -> tuple[IncidentFigures, ...]:
    figures = []
    for incident in store.incidents.between(since, until):
        posts = store.incidents.posts(incident.id)
        start = incident.created_at
        end = incident.resolved_at or now
        figures.append(
            IncidentFigures(
                incident=incident,
                posts=len(posts),
                customers=len({(p.platform, p.author_handle) for p in posts}),
                answered=sum(1 for p in posts if p.item_state in ("replied", "answered_elsewhere")),
                duration_seconds=(end - start).total_seconds(),
                to_first_statement_seconds=(
                    (incident.first_statement_at - start).total_seconds() if incident.first_statement_at else None
                ),
                to_resolution_seconds=(incident.resolved_at - start).total_seconds() if incident.resolved_at else None,
                followups=store.incidents.followups_sent(incident.id),
            )
        )
    return tuple(figures)
