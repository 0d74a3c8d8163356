"""Detection over a batch: the window slides over its posts; an ignored burst is not
suggested again while it goes on; a quiet trickle is never a burst."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from connectors.base import FetchResult
from rules.triage import Triage, TriageContext
from tests.conftest import Clock, make_post
from watcher.config import Config
from watcher.core.incident import IncidentState
from watcher.core.post import Post
from watcher.incidents.actions import Incidents
from watcher.incidents.detect import burst
from watcher.incidents.promises import PromiseList
from watcher.ingest.pipeline import Pipeline
from watcher.store import Store


def outage(post: Post, ctx: TriageContext) -> Triage:
    return Triage(70, "high", True, -0.5, "negative", "en", intents=("outage",))


def posts_at(clock: Clock, minutes: list[int], prefix: str) -> tuple[Post, ...]:
    return tuple(
        make_post(f"app down {prefix}{m}", handle=f"{prefix}{m}", created_at=clock.now + timedelta(minutes=m))
        for m in minutes
    )


def test_burst_finds_the_first_window_that_holds_enough_posts(clock: Clock) -> None:
    at = [(f"k{m}", clock.now + timedelta(minutes=m)) for m in (0, 50, 100, 110, 115, 300)]
    assert burst(at, timedelta(minutes=30), 3) == ["k100", "k110", "k115", "k300"]
    assert burst(at, timedelta(minutes=30), 4) == []


def test_a_trickle_is_no_incident_and_an_ignored_burst_is_not_suggested_again(
    make_config: Callable[..., Config], store: Store, clock: Clock
) -> None:
    config = make_config(incidents={"min_posts": 3, "window_minutes": 30})
    pipeline = Pipeline(store, config, triage_fn=outage, clock=clock)
    pipeline.ingest("x", FetchResult(posts=posts_at(clock, [0, 40, 80, 120], "t"), cursor=None))
    assert store.incidents.active(("suggested",)) == []

    pipeline.ingest("x", FetchResult(posts=posts_at(clock, [200, 205, 210], "b"), cursor=None))
    [incident] = store.incidents.active(("suggested",))
    Incidents(store, PromiseList.load(), clock=clock).move(incident.id, IncidentState.IGNORED, "UANA")
    pipeline.ingest("x", FetchResult(posts=posts_at(clock, [215, 216, 217], "c"), cursor=None))
    assert store.incidents.active(("suggested",)) == []
    assert len(store.incidents.posts(incident.id)) == 6  # the ignored one took them, and their cards stayed
    kinds = dict(store.db.execute("SELECT kind, COUNT(*) FROM outbox GROUP BY kind").fetchall())
    assert kinds == {"card": 10, "incident": 1, "incident_update": 1}  # the ignore redraws the suggestion
