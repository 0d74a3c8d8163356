"""A small hand-checkable store for the digest tests (import as tests.watcher.digest.fixture).

Europe/Rome, around the end of summer time on Sunday 2026-10-25 (03:00 CEST ->
02:00 CET at 01:00 UTC): that local day lasts 25 hours, 2026-10-24T22:00Z to
2026-10-25T23:00Z.

  key   UTC time           local (Rome)         sentiment  platform  counted in
  p0    10-24 10:00        Sat 12:00 CEST       positive   reddit    Sat 24
  p1    10-24 21:59        Sat 23:59 CEST       negative   x         Sat 24
  p2    10-24 22:00        Sun 00:00 CEST       negative   x         Sun 25, hour 0
  p3    10-25 00:30        Sun 02:30 CEST       negative   x         Sun 25, hour 2 (first 02:00)
  p4    10-25 01:30        Sun 02:30 CET        positive   reddit    Sun 25, hour 3 (second 02:00)
  p5    10-25 22:59        Sun 23:59 CET        neutral    x         Sun 25, hour 24
  p6    10-25 23:00        Mon 00:00 CET        negative   x         Mon 26
  own   10-25 10:00        the brand's own post                      never
  dup   10-25 11:00        a collapsed duplicate of p3               never

Queue items (SLA: urgent 15 min, high 1 h, normal 4 h):
  p2 urgent, replied by ana 10 min after the post            -> within SLA
  p3 high, escalated, replied by ben 90 min after the post   -> missed
  p4 normal, dismissed by ben, no response                   -> not due
  p5 normal, open, no response                               -> due once 4 h have passed
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import make_post
from watcher.core.post import Metrics, Post
from watcher.store import Store, StoredTriage

SUNDAY = "2026-10-25"
TZ = "Europe/Rome"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def post(
    native_id: str,
    when: str,
    text: str,
    *,
    platform: str = "x",
    followers: int = 10,
    likes: int = 0,
    author: str | None = None,
    is_own: bool = False,
) -> Post:
    return make_post(
        text,
        native_id=native_id,
        handle=author or f"user_{native_id}",
        created_at=at(when),
        platform=platform,
        followers=followers,
        metrics=Metrics(likes=likes),
        url=f"https://example.invalid/{platform}/{native_id}",
        is_own=is_own,
        source=f"{platform}_mentions",
    )


def triage(label: str, *, lang: str = "en", intents: tuple[str, ...] = (), priority: str = "normal") -> StoredTriage:
    sentiment = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}[label]
    return StoredTriage(
        score=50,
        priority=priority,
        needs_reply=True,
        sentiment=sentiment,
        sentiment_label=label,
        lang=lang,
        intents=intents,
        reasons=(),
    )


def add(store: Store, p: Post, label: str, *, duplicate_of: str | None = None, **kw: object) -> str:
    store.posts.insert_post(p, triage(label, **kw), fetched_at=p.created_at, duplicate_of=duplicate_of)  # type: ignore[arg-type]
    return p.key


def respond(
    store: Store,
    key: str,
    *,
    priority: str,
    state: str,
    agent: str | None = None,
    after_minutes: float | None = None,
    escalated: bool = False,
) -> int:
    created = store.posts.get_post(key).created_at  # type: ignore[union-attr]
    item_id = store.items.create_queue_item(
        key, priority=priority, score=50, channel="#care", now=created + timedelta(minutes=1)
    )
    assert item_id is not None
    changes: dict[str, object] = {"state": state, "assignee": agent, "escalated": int(escalated)}
    if after_minutes is not None:
        changes["first_response_at"] = created + timedelta(minutes=after_minutes)
    if state == "dismissed":
        changes["dismiss_reason"] = "no_reply_needed"
    assert store.items.update_item(item_id, expected_version=1, changes=changes, now=created + timedelta(minutes=2))
    return item_id


def build(store: Store) -> None:
    add(store, post("p0", "2026-10-24T10:00:00", "great service, thanks", platform="reddit"), "positive")
    add(store, post("p1", "2026-10-24T21:59:00", "card declined again"), "negative", intents=("complaint",))
    p2 = add(
        store,
        post("p2", "2026-10-24T22:00:00", "still waiting for my refund <script>alert(1)</script>", followers=5000),
        "negative",
        intents=("complaint", "refund"),
    )
    p3 = add(
        store,
        post("p3", "2026-10-25T00:30:00", "waiting for refund since monday", likes=40),
        "negative",
        intents=("refund",),
    )
    p4 = add(
        store,
        post("p4", "2026-10-25T01:30:00", "ottimo servizio", platform="reddit", followers=300),
        "positive",
        lang="it",
    )
    p5 = add(store, post("p5", "2026-10-25T22:59:00", "what are your opening hours?"), "neutral", intents=("question",))
    add(store, post("p6", "2026-10-25T23:00:00", "refund refused, terrible"), "negative")
    add(store, post("own", "2026-10-25T10:00:00", "we are here to help", is_own=True), "positive")
    add(store, post("dup", "2026-10-25T11:00:00", "waiting for refund since monday"), "negative", duplicate_of=p3)
    respond(store, p2, priority="urgent", state="replied", agent="ana", after_minutes=10)
    respond(store, p3, priority="high", state="replied", agent="ben", after_minutes=90, escalated=True)
    respond(store, p4, priority="normal", state="dismissed", agent="ben")
    respond(store, p5, priority="normal", state="new")
