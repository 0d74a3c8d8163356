"""Raw payloads kept only storage.raw_days: pruning in batches, open items keep theirs,
and what reads a post copes with a pruned payload."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.conftest import T0, Clock, make_post
from watcher.config import Config
from watcher.core.config import ConfigError
from watcher.core.post import PostKind
from watcher.queue.machine import Queue
from watcher.scheduler import prune_payloads
from watcher.service import Service
from watcher.slack.cards import rating_verdict
from watcher.store import Store
from watcher.store.posts import NewPost


def stored_raw(store: Store) -> dict[str, bool]:
    rows = store.db.execute("SELECT key, (SELECT 1 FROM post_raw WHERE post_key = key) FROM posts ORDER BY key")
    return {key: kept is not None for key, kept in rows}


def test_payloads_older_than_the_cutoff_are_dropped_in_batches(store: Store) -> None:
    posts = [make_post(native_id=str(n), minutes=n, raw={"id": n}) for n in range(7)]
    store.posts.insert_posts([NewPost(p, None) for p in posts], fetched_at=T0)
    assert store.posts.prune_raw(T0 + timedelta(minutes=5), batch=2) == 5  # three batches: 2, 2, 1
    assert stored_raw(store) == {f"x:{n}": n >= 5 for n in range(7)}
    pruned = store.posts.get_post("x:0")
    assert pruned is not None and pruned.raw == {} and pruned.text == posts[0].text
    assert store.posts.prune_raw(T0 + timedelta(minutes=5)) == 0  # nothing left to drop


def test_an_open_item_keeps_its_payload_until_it_closes(store: Store) -> None:
    store.posts.insert_posts([NewPost(make_post(native_id="1", raw={"visibility": "direct"}), None)], fetched_at=T0)
    item = store.items.create_queue_item("x:1", priority="high", score=70, channel="#c", now=T0)
    assert item is not None
    later = T0 + timedelta(days=60)
    assert store.posts.prune_raw(later) == 0  # a reply may still read it (Mastodon's visibility)
    Queue(store, clock=lambda: T0).dismiss(item, "ana", "spam")
    assert store.posts.prune_raw(later) == 1


def test_the_job_uses_raw_days_and_zero_keeps_everything(make_config: Callable[..., Config]) -> None:
    clock = Clock(T0 + timedelta(days=31))
    for days, kept in ((30, False), (0, True)):
        config = make_config(storage={"path": make_config().storage.path, "raw_days": days})
        service = Service.from_config(config, connectors={}, clock=clock)
        service.store.db.execute("DELETE FROM posts")
        service.store.posts.insert_posts([NewPost(make_post(native_id="1", raw={"a": 1}), None)], fetched_at=T0)
        prune_payloads(service)
        assert stored_raw(service.store) == {"x:1": kept}
        service.close()


def test_a_negative_raw_days_is_refused(make_config: Callable[..., Config]) -> None:
    with pytest.raises(ConfigError, match="storage.raw_days"):
        make_config(storage={"path": "w.db", "raw_days": -1})


def test_a_rating_card_without_its_payload_has_no_verdict_line() -> None:
    rating = make_post("Recommends: great service", kind=PostKind.REVIEW, platform="facebook")
    assert rating_verdict(rating) == ""  # the verdict still leads the post's text


def test_the_walk_goes_on_past_a_kept_payload(store: Store) -> None:
    posts = [make_post(native_id=str(n), minutes=n, raw={"id": n}) for n in range(5)]
    store.posts.insert_posts([NewPost(p, None) for p in posts], fetched_at=T0)
    assert store.items.create_queue_item("x:0", priority="high", score=70, channel="#c", now=T0)
    assert store.posts.prune_raw(T0 + timedelta(days=1), batch=1) == 4
    assert stored_raw(store) == {f"x:{n}": n == 0 for n in range(5)}
