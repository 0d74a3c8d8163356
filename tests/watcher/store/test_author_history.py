"""What ingest asks the store about a batch's authors: bounded reads, not their whole history."""

from __future__ import annotations

import zlib
from datetime import timedelta

import pytest

from tests.conftest import T0, make_post
from watcher.core.post import RawJson
from watcher.queue.machine import Queue
from watcher.store import AuthorProbe, NewPost, Store
from watcher.store import posts as posts_module

DEDUPE, REPEAT = timedelta(hours=24), timedelta(days=5)


def store_posts(store: Store, *entries: NewPost) -> None:
    store.posts.insert_posts(list(entries), fetched_at=T0)


def test_repeats_count_the_authors_customer_posts_in_the_window_before_the_post(store: Store) -> None:
    day = 24 * 60
    store_posts(
        store,
        NewPost(make_post("too old", native_id="1", minutes=-6 * day), None),
        NewPost(make_post("in the window", native_id="2", minutes=-4 * day), None),
        NewPost(make_post("in the window too", native_id="3", minutes=-1), None),
        NewPost(make_post("a duplicate", native_id="4", minutes=-2), None, duplicate_of="x:3"),
        NewPost(make_post("our own", native_id="5", minutes=-3, is_own=True), None),
        NewPost(make_post("same time", native_id="6", minutes=0), None),
        NewPost(make_post("later", native_id="7", minutes=5), None),
        NewPost(make_post("someone else", native_id="8", minutes=-1, handle="bob"), None),
    )
    (answer,) = store.posts.author_history(
        [AuthorProbe("x:id-ann", T0, "new words")], dedupe_window=DEDUPE, repeat_window=REPEAT
    )
    assert answer.repeats == 2 and answer.original is None


def test_the_original_is_the_earliest_same_words_post_in_the_dedupe_window(store: Store) -> None:
    store_posts(
        store,
        NewPost(make_post("Help me!", native_id="1", minutes=-25 * 60), None),  # before the window
        NewPost(make_post("help me", native_id="2", minutes=-60), None),
        NewPost(make_post("HELP ME", native_id="3", minutes=-30), None),
        NewPost(make_post("help me", native_id="4", minutes=-90), None, duplicate_of="x:1"),
    )
    probes = [AuthorProbe("x:id-ann", T0, "help me"), AuthorProbe("x:id-bob", T0, "help me")]
    ann, bob = store.posts.author_history(probes, dedupe_window=DEDUPE, repeat_window=REPEAT)
    assert ann.original == (T0 - timedelta(minutes=60), "x:2")
    assert bob.original is None and bob.repeats == 0


def test_author_history_reads_a_bounded_range_of_the_author_index(store: Store) -> None:
    """The old reads had no upper time bound and parsed every row's time in Python."""
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    store.posts.author_history([AuthorProbe("x:id-ann", T0, "hi")], dedupe_window=DEDUPE, repeat_window=REPEAT)
    store.db.conn.set_trace_callback(None)
    repeats = next(s for s in statements if "COUNT(*)" in s)
    plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + repeats).fetchall()]
    assert any(
        step.startswith(
            "SEARCH p USING INDEX idx_posts_author_key_created_at (author_key=? AND created_at>? AND created_at<?)"
        )
        for step in plan
    ), plan
    assert not any(step.split()[:2] == ["SCAN", "p"] for step in plan), plan


def test_many_probes_are_answered_in_order(store: Store) -> None:
    store_posts(store, *(NewPost(make_post(f"post {n}", native_id=str(n), handle=f"a{n}"), None) for n in range(250)))
    probes = [AuthorProbe(f"x:id-a{n % 300}", T0 + timedelta(minutes=1), f"post {n % 300}") for n in range(600)]
    answers = store.posts.author_history(probes, dedupe_window=DEDUPE, repeat_window=REPEAT)
    assert [a.repeats for a in answers] == [1 if n % 300 < 250 else 0 for n in range(600)]
    assert [a.original and a.original[1] for a in answers] == [
        f"x:{n % 300}" if n % 300 < 250 else None for n in range(600)
    ]


def test_the_open_items_counter_follows_the_queue(store: Store) -> None:
    store_posts(store, *(NewPost(make_post("refund?", native_id=str(n)), None) for n in range(3)))
    ids = [store.items.create_queue_item(f"x:{n}", priority="high", score=70, channel="#c", now=T0) for n in range(3)]
    assert store.posts.open_items_by_author(["x:id-ann"]) == {"x:id-ann": 3}
    queue = Queue(store, clock=lambda: T0)
    assert ids[0] is not None and ids[1] is not None and ids[2] is not None
    queue.snooze(ids[0], "ana", T0 + timedelta(hours=1))  # snoozed is still open
    queue.dismiss(ids[1], "ana", "spam")
    assert store.posts.open_items_by_author(["x:id-ann"]) == {"x:id-ann": 2}
    store.db.execute("UPDATE queue_items SET state = 'new' WHERE id = ?", [ids[1]])  # reopened
    store.db.execute("DELETE FROM queue_items WHERE id = ?", [ids[2]])
    assert store.posts.open_items_by_author(["x:id-ann"]) == {"x:id-ann": 2}
    assert store.db.execute("SELECT COUNT(*) FROM queue_items WHERE state IN ('new', 'snoozed')").fetchone()[0] == 2


def test_raw_payloads_are_stored_compressed_and_read_back(store: Store) -> None:
    text = '{"id": "1", "text": "' + "the same words again " * 20 + '"}'
    store_posts(store, NewPost(make_post("hi", native_id="1", raw=RawJson(text)), None))
    stored = store.db.execute("SELECT raw FROM post_raw").fetchone()[0]
    assert len(stored) < len(text) / 3 and zlib.decompress(stored).decode() == text
    post = store.posts.get_post("x:1")
    assert post is not None and post.raw["text"].startswith("the same words")


def test_post_pages_read_the_window_in_time_order_without_duplicates_or_raw(store: Store) -> None:
    store_posts(
        store,
        *(NewPost(make_post(f"p{n}", native_id=str(n), minutes=n // 2, raw={"n": n}), None) for n in range(9)),
        NewPost(make_post("dup", native_id="99", minutes=3), None, duplicate_of="x:1"),
    )
    pages = list(store.posts.post_pages(since=T0 + timedelta(minutes=1), page_size=2))
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    posts = [post for page in pages for post in page]
    assert [p.native_id for p in posts] == ["2", "3", "4", "5", "6", "7", "8"]
    assert all(p.raw == {} for p in posts)


def test_a_hash_match_with_other_words_is_not_an_original(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(posts_module, "norm_hash", lambda norm: 1 if norm else None)  # every text collides
    store_posts(store, NewPost(make_post("help me", native_id="1", minutes=-5), None))
    (answer,) = store.posts.author_history(
        [AuthorProbe("x:id-ann", T0, "other words")], dedupe_window=DEDUPE, repeat_window=REPEAT
    )
    assert answer.original is None and answer.repeats == 1
