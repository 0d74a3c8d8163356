"""The ingest write path: what a batch of posts, queue items, audit rows and cards stores."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench import ingest
from connectors.base import FetchResult
from tests.conftest import T0, make_post
from watcher import store as store_module
from watcher.cli.demo import sample_path
from watcher.config import Config
from watcher.core.cursor import Cursor
from watcher.core.post import Post, RawJson
from watcher.ingest.pipeline import Pipeline
from watcher.store import NewItem, NewPost, Store, StoredTriage
from watcher.store.posts import norm_hash

TRIAGED = StoredTriage(
    score=71,
    priority="high",
    needs_reply=True,
    sentiment=-0.62,
    sentiment_label="negative",
    lang="it",
    intents=("complaint", "refund"),
    reasons=('mentions "rimborso"',),
    tags=("vip",),
    channel="#care-it",
)


def test_a_triaged_post_is_stored_column_by_column(store: Store) -> None:
    post = make_post("voglio il rimborso", native_id="1", lang="en", raw={"when": T0})
    store.posts.insert_posts([NewPost(post, TRIAGED, None, "voglio il rimborso")], fetched_at=T0)
    assert store.posts.post_triage("x:1") == TRIAGED
    row = store.db.execute(
        "SELECT lang, norm_hash, fetched_at, created_at, author_key, "
        "(SELECT raw FROM post_raw WHERE post_key = key), duplicate_of FROM posts WHERE key = 'x:1'"
    ).fetchone()
    row = (*row[:5], zlib.decompress(row[5]).decode(), row[6])  # raw is stored compressed
    # the detected language replaces the platform's hint; raw is encoded as before (default=str)
    assert row == (
        "it",
        norm_hash("voglio il rimborso"),
        "2026-11-20T09:00:00.000000+00:00",
        "2026-11-20T09:00:00.000000+00:00",
        "x:id-ann",
        json.dumps({"when": str(T0)}, ensure_ascii=False),
        None,
    )


def test_an_untriaged_duplicate_keeps_the_platform_language(store: Store) -> None:
    post = make_post("Help!!", native_id="2", lang="en")
    store.posts.insert_posts([NewPost(post, None, "x:1")], fetched_at=T0)
    row = store.db.execute(
        "SELECT lang, norm_hash, duplicate_of, score, intents FROM posts WHERE key = 'x:2'"
    ).fetchone()
    assert row == ("en", norm_hash("help"), "x:1", None, None)
    assert store.posts.post_triage("x:2") is None


def test_a_payload_parsed_from_json_is_stored_as_that_text(store: Store) -> None:
    text = '{"id":"3","text":"ciao \\u00e8","nested":{"a":[1,2.5,null]}}'
    raw = RawJson(text)
    store.posts.insert_post(make_post("ciao è", native_id="3", raw=raw), None, fetched_at=T0)
    assert (
        zlib.decompress(store.db.execute("SELECT raw FROM post_raw WHERE post_key = 'x:3'").fetchone()[0]).decode()
        == text
    )
    stored = store.posts.get_post("x:3")
    assert stored is not None and stored.raw == {"id": "3", "text": "ciao è", "nested": {"a": [1, 2.5, None]}}


def test_the_cursor_is_replaced_not_added(store: Store) -> None:
    store.sources.set_cursor("x", Cursor({"n": 1}), now=T0)
    store.sources.set_cursor("x", Cursor({"n": 2}), now=T0)
    assert store.sources.get_cursor("x") == Cursor({"n": 2})
    assert store.db.execute("SELECT COUNT(*) FROM cursors").fetchone()[0] == 1


def test_open_items_per_author_are_read_from_the_author_counter(store: Store, config: Config) -> None:
    """Counting through the author's posts read every post the author ever stored, each batch."""
    pipeline = Pipeline(store, config, clock=lambda: T0)
    posts = tuple(make_post(f"app down, order {n} lost", native_id=str(n), handle=f"a{n % 3}") for n in range(9))
    pipeline.ingest("x", FetchResult(posts=posts, cursor=Cursor({"n": 9})))
    assert store.posts.open_items_by_author(["x:id-a0", "x:id-a1", "x:id-zz"]) == {"x:id-a0": 3, "x:id-a1": 3}
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    store.posts.open_items_by_author(["x:id-a0", "x:id-a1"])
    store.db.conn.set_trace_callback(None)
    (sql,) = [s for s in statements if "open_items" in s]
    plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
    assert plan == ["SEARCH authors USING INDEX sqlite_autoindex_authors_1 (key=?)"], plan


def test_queue_audit_and_outbox_rows_keep_their_json(store: Store) -> None:
    post = make_post("refund me", native_id="4")
    store.posts.insert_post(post, TRIAGED, fetched_at=T0)
    pipeline_items = store.items.create_queue_item("x:4", priority="high", score=71, channel="#care", now=T0)
    assert pipeline_items is not None
    detail = store.db.execute("SELECT detail FROM events WHERE item_id = ?", [pipeline_items]).fetchone()[0]
    assert json.loads(detail) == {"priority": "high", "score": 71}


def test_the_bench_prints_posts_per_second_beside_vader(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["ingest.py", "--copies", "1", "--runs", "1"])
    ingest.main()
    out = capsys.readouterr().out
    assert re.search(r"end-to-end ingest: +\d+ posts/s +\(floor 500: (ok|BELOW)\)", out), out
    assert re.search(r"VADER alone: +\d+ posts/s", out), out
    counts = re.search(r"posts: (\d+) \((\d+) stored, (\d+) queued, (\d+) collapsed\)", out)
    assert counts is not None, out
    total, stored, queued, collapsed = map(int, counts.groups())
    assert total == sum(1 for line in sample_path().read_text(encoding="utf-8").splitlines() if line.strip())
    assert stored > 300 and 0 < queued <= stored - collapsed


def test_stored_keys_are_skipped_and_their_authors_not_counted_again(store: Store) -> None:
    first, second = make_post("one", native_id="1"), make_post("two", native_id="2", minutes=1)
    assert store.posts.insert_posts([NewPost(first, TRIAGED)], fetched_at=T0) == {"x:1"}
    repeat = make_post("two, again", native_id="2", minutes=2)
    added = store.posts.insert_posts(
        [NewPost(first, None), NewPost(second, None), NewPost(repeat, None)], fetched_at=T0
    )
    assert added == {"x:2"}
    assert store.posts.get_post("x:2") == second  # the first of a key in a batch wins
    assert store.db.execute("SELECT post_count FROM authors WHERE key = 'x:id-ann'").fetchone()[0] == 2
    assert store.posts.insert_posts([NewPost(first, None)], fetched_at=T0) == set()


def test_queue_items_are_created_once_per_post_with_their_audit_and_card(store: Store) -> None:
    for n in ("1", "2", "3"):
        store.posts.insert_post(make_post(f"help {n}", native_id=n), TRIAGED, fetched_at=T0)
    first = store.items.create_queue_items([NewItem("x:1", "high", 70, "#care")], now=T0, card_kind="card")
    items = [
        NewItem("x:1", "high", 70),
        NewItem("x:2", "low", 10),
        NewItem("x:2", "urgent", 99),
        NewItem("x:3", "normal", 50, notify=False),
    ]
    created = store.items.create_queue_items(items, now=T0, card_kind="card")
    assert set(created) == {"x:2", "x:3"} and first["x:1"] not in created.values()
    assert store.items.get_item(created["x:2"]).priority == "low"  # type: ignore[index]
    events = store.db.execute("SELECT item_id, action FROM events ORDER BY id").fetchall()
    assert events == [(first["x:1"], "created"), (created["x:2"], "created"), (created["x:3"], "created")]
    cards = store.db.execute("SELECT dedupe_key, payload FROM outbox ORDER BY id").fetchall()
    assert [c[0] for c in cards] == ["card:x:1", "card:x:2"]
    assert json.loads(cards[1][1]) == {"item_id": created["x:2"], "post_key": "x:2"}
    assert store.items.create_queue_items(items, now=T0, card_kind="card") == {}


def test_a_post_missing_a_required_field_still_fails_the_batch(store: Store) -> None:
    broken = replace(make_post(native_id="5"), native_id=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        store.posts.insert_posts([NewPost(make_post(native_id="4"), None), NewPost(broken, None)], fetched_at=T0)
    assert store.posts.count_posts() == 0


def _authors(store: Store) -> list[tuple[object, ...]]:
    return store.db.execute("SELECT rowid, * FROM authors ORDER BY rowid").fetchall()


def test_a_batch_upserts_each_author_once_as_one_upsert_per_post_did(tmp_path: Path) -> None:
    def post(native_id: str, minutes: float, handle: str, author: str = "ann", followers: int = 10) -> Post:
        made = make_post(native_id=native_id, minutes=minutes, handle=author, followers=followers)
        return replace(made, author=replace(made.author, handle=handle, display_name=handle.title()))

    known = [post("0", 30, "ann_old"), post("b0", 5, "bob", author="bob")]
    batch = [
        post("1", 10, "ann1", followers=11),
        post("2", -5, "ann2", followers=12),  # earlier than every stored post: first_seen moves
        post("b1", 1, "bob1", author="bob"),
        post("3", 60, "ann3", followers=13),  # later: last_seen moves, the last profile wins
        post("1", 99, "dup"),  # a key twice in a batch: the first wins, no second count
        post("c1", 2, "cy", author="cy"),  # a new author between known ones keeps its rowid order
        post("4", 20, "ann4", followers=14),
    ]
    one_call, per_post = Store(tmp_path / "one.db"), Store(tmp_path / "per.db")
    for store in (one_call, per_post):
        store.posts.insert_posts([NewPost(p, None) for p in known], fetched_at=T0)
    one_call.posts.insert_posts([NewPost(p, None) for p in batch], fetched_at=T0)
    for p in batch:
        per_post.posts.insert_posts([NewPost(p, None)], fetched_at=T0)
    assert _authors(one_call) == _authors(per_post)
    ann = one_call.db.execute(
        "SELECT handle, followers, first_seen, last_seen, post_count FROM authors WHERE key = 'x:id-ann'"
    ).fetchone()
    assert ann == ("ann4", 14, "2026-11-20T08:55:00.000000+00:00", "2026-11-20T10:00:00.000000+00:00", 5)
    one_call.close()
    per_post.close()


@pytest.mark.parametrize(
    "moment",
    [
        T0,
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 20, 9, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
)
def test_times_are_written_as_isoformat_writes_them(moment: datetime) -> None:
    assert store_module.iso(moment) == moment.astimezone(UTC).isoformat(timespec="microseconds")


def test_audit_rows_and_cards_hold_json_for_any_post_key(store: Store) -> None:
    keys = ["x:1", 'x:"2', "x:3è\\\n"]
    items = [NewItem(key, ("high", "low", "urgent")[n], 70 - n, f"#care-{n}") for n, key in enumerate(keys)]
    created = store.items.create_queue_items(items, now=T0, card_kind="card")
    assert created == {key: n for n, key in enumerate(keys, 1)}
    details = [json.loads(r[0]) for r in store.db.execute("SELECT detail FROM events ORDER BY id")]
    assert details == [{"priority": i.priority, "score": i.score} for i in items]
    payloads = [json.loads(r[0]) for r in store.db.execute("SELECT payload FROM outbox ORDER BY id")]
    assert payloads == [{"item_id": created[key], "post_key": key} for key in keys]


def test_an_item_that_does_not_notify_gets_no_card(store: Store) -> None:
    items = [NewItem("x:1", "high", 70), NewItem("x:2", "low", 10, notify=False), NewItem("x:3", "normal", 40)]
    created = store.items.create_queue_items(items, now=T0, card_kind="card")
    assert created == {"x:1": 1, "x:2": 2, "x:3": 3}
    assert [r[0] for r in store.db.execute("SELECT dedupe_key FROM outbox ORDER BY id")] == ["card:x:1", "card:x:3"]
    assert store.db.execute("SELECT COUNT(*) FROM events WHERE action = 'created'").fetchone()[0] == 3


def test_parent_and_duplicate_columns_are_stored_as_given(store: Store) -> None:
    none = [make_post(f"plain {n}", native_id=f"n{n}") for n in range(3)]
    some = [
        make_post("reply", native_id="r1", parent_id="n0", parent_text="plain 0"),
        make_post("plain again", native_id="r2"),
    ]
    duplicate = [make_post("plain 1!", native_id="d1")]
    store.posts.insert_posts([NewPost(p, TRIAGED) for p in none], fetched_at=T0)
    store.posts.insert_posts([NewPost(p, TRIAGED) for p in some], fetched_at=T0)
    store.posts.insert_posts([NewPost(p, None, "x:n1") for p in duplicate], fetched_at=T0)
    rows = store.db.execute("SELECT key, parent_id, parent_text, duplicate_of, score FROM posts ORDER BY rowid")
    assert rows.fetchall() == [
        ("x:n0", None, None, None, 71),
        ("x:n1", None, None, None, 71),
        ("x:n2", None, None, None, 71),
        ("x:r1", "n0", "plain 0", None, 71),
        ("x:r2", None, None, None, 71),
        ("x:d1", None, None, "x:n1", None),
    ]
    assert store.posts.get_post("x:r1") == replace(some[0], lang="it")  # the triaged language
