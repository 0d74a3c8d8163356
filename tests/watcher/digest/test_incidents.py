"""The digest lists the period's incidents: duration, customers, time to first statement
and to resolution."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from connectors.base import FetchResult
from rules.triage import Triage, TriageContext
from tests.conftest import Clock, make_post
from tests.watcher.slack.conftest import RecordingConnector
from watcher.config import Config
from watcher.core.incident import IncidentState, StatementKind
from watcher.core.post import Post
from watcher.digest.jobs import build_digest
from watcher.digest.text import digest_text
from watcher.incidents.actions import Incidents
from watcher.incidents.fanout import FanOut
from watcher.incidents.promises import PromiseList
from watcher.ingest.pipeline import Pipeline
from watcher.store import Store


def outage(post: Post, ctx: TriageContext) -> Triage:
    return Triage(70, "high", True, -0.5, "negative", "en", intents=("outage",))


def test_an_incident_of_the_day_shows_its_figures(
    make_config: Callable[..., Config], store: Store, clock: Clock
) -> None:
    config = make_config(incidents={"min_posts": 3})
    posts = [make_post(f"the app is down {n}", handle=f"c{n}", created_at=clock.now) for n in range(4)]
    Pipeline(store, config, triage_fn=outage, clock=clock).ingest("x", FetchResult(posts=tuple(posts), cursor=None))
    [incident] = store.incidents.active(("suggested",))
    incidents = Incidents(store, PromiseList.load(), clock=clock)
    incidents.move(incident.id, IncidentState.INVESTIGATING, "UANA")
    clock.advance(minutes=20)
    incidents.write_statement(incident.id, StatementKind.FIRST, {"en": "Hi {handle}, we are on it."}, "UANA")
    incidents.approve_statement(incident.id, StatementKind.FIRST, "ULUCA")
    FanOut(store, lambda p: RecordingConnector(), clock=clock, sleep=lambda s: None).run(incident.id)
    clock.advance(hours=2)
    incidents.move(incident.id, IncidentState.RESOLVED, "UANA")

    digest = build_digest(store, config, period="day", now=clock.now + timedelta(days=1))
    [figures] = digest.incidents
    assert figures.customers == 4 and figures.answered == 4
    assert figures.to_first_statement_seconds == 20 * 60
    assert figures.to_resolution_seconds == figures.duration_seconds == (2 * 60 + 20) * 60
    assert "*Incidents* 1" in digest_text(digest)
    assert "4 customers, 4 posts, 4 answered; lasted 2h 20m, first statement after 20m" in digest_text(digest)
