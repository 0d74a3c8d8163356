from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.helpers import T0, make_post
from watcher.core.cursor import Cursor
from watcher.store import SCHEMA_VERSION, Store, StoreError, iso
from watcher.store import schema as store_module


def run_sql(path: Path, *statements: str) -> list[tuple[object, ...]]:
    """Run statements on the file with plain sqlite3 (not the Store); the last one's rows."""
    conn = sqlite3.connect(path)
    try:
        return [conn.execute(statement).fetchall() for statement in statements][-1]
    finally:
        conn.commit()
        conn.close()


def test_a_new_database_gets_the_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as db:
        assert db.schema_version() == SCHEMA_VERSION == 1
        assert {
            "posts",
            "authors",
            "cursors",
            "queue_items",
            "events",
            "feedback",
            "outbox",
            "source_state",
            "replies",
            "slack_messages",
            "digest_runs",
            "digest_schedules",
            "spike_state",
        } <= set(db.db.table_names())
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store(path) as db:
        db.posts.insert_post(make_post("kept"), None, fetched_at=T0)
    with Store(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        assert db.posts.count_posts() == 1


def test_a_schema_that_fails_half_way_leaves_an_empty_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.db"
    monkeypatch.setattr(store_module, "SCHEMA", store_module.SCHEMA + "\nCREATE TABLE posts (key TEXT);\n")
    with pytest.raises(StoreError):
        Store(path)
    assert run_sql(path, "SELECT COUNT(*) FROM sqlite_master") == run_sql(path, "PRAGMA user_version") == [(0,)]
    monkeypatch.undo()
    with Store(path) as db:
        assert db.schema_version() == SCHEMA_VERSION


@pytest.mark.parametrize("version", [1, 3, 7])
def test_a_database_from_a_development_build_says_what_to_do(tmp_path: Path, version: int) -> None:
    """Before the first release the schema was migrated v1..v7; no upgrade path is kept."""
    path = tmp_path / "w.db"
    run_sql(path, "CREATE TABLE posts (key TEXT PRIMARY KEY)", f"PRAGMA user_version = {version}")
    with pytest.raises(StoreError, match="development build .* move it aside and let the watcher create a new"):
        Store(path)


def test_an_sqlite_file_of_another_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    run_sql(path, "CREATE TABLE recipes (name TEXT)")
    with pytest.raises(StoreError, match="not a watcher database"):
        Store(path)
    assert run_sql(path, "SELECT name FROM sqlite_master") == [("recipes",)]  # left as it was


def test_newer_database_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Store(path).close()
    run_sql(path, f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(StoreError, match="newer than this watcher"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database" * 100, encoding="utf-8")
    with pytest.raises(StoreError, match="not a usable watcher database"):
        Store(path)


def test_cursor_round_trip(store: Store) -> None:
    assert store.sources.get_cursor("x") is None
    store.sources.set_cursor("x", Cursor({"since_id": "123", "pages": [1, 2]}), now=T0)
    assert store.sources.get_cursor("x") == Cursor({"since_id": "123", "pages": [1, 2]})


def test_post_round_trip_keeps_every_field(store: Store) -> None:
    post = make_post(
        "ciao, la carta non funziona 😡",
        native_id="77",
        lang="it",
        parent_id="5",
        conversation_id="5",
        parent_text="Hi!",
        url="https://x.com/a/status/77",
        raw={"k": [1]},
    )
    assert store.posts.insert_post(post, None, fetched_at=T0)
    assert not store.posts.insert_post(post, None, fetched_at=T0)
    assert store.posts.get_post(post.key) == post


def test_outbox_never_holds_the_same_notification_twice(store: Store) -> None:
    first = store.outbox.enqueue_outbox("card", "card:x:1", {"item_id": 1}, now=T0)
    again = store.outbox.enqueue_outbox("card", "card:x:1", {"item_id": 1}, now=T0)
    assert first is not None and again is None
    assert len(store.outbox.due_outbox(now=T0)) == 1


def test_item_updates_are_compare_and_set(store: Store) -> None:
    store.posts.insert_post(make_post(native_id="1"), None, fetched_at=T0)
    item_id = store.items.create_queue_item("x:1", priority="high", score=70, channel="", now=T0)
    assert item_id is not None
    assert store.items.create_queue_item("x:1", priority="high", score=70, channel="", now=T0) is None
    item = store.items.get_item(item_id)
    assert item is not None
    assert store.items.update_item(item_id, expected_version=item.version, changes={"state": "claimed"}, now=T0)
    assert not store.items.update_item(item_id, expected_version=item.version, changes={"state": "new"}, now=T0)
    assert [e["action"] for e in store.items.events_for_item(item_id)] == ["created"]


def test_store_is_safe_across_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for n in range(50):
                with store.transaction():
                    store.posts.insert_post(
                        make_post(native_id=f"{offset}-{n}", author=f"a{offset}"), None, fetched_at=T0
                    )
                    store.sources.set_cursor(f"s{offset}", Cursor({"n": n}), now=T0)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.posts.count_posts() == 200
    assert store.sources.get_cursor("s3") == Cursor({"n": 49})


def test_a_send_whose_lease_ran_out_cannot_end_the_lease_another_send_took_since(store: Store) -> None:
    """Send A stalls past its lease, send B takes the item; when A finally ends, its release
    must leave B's lease alone, or a third send could post beside B."""
    store.posts.insert_post(make_post(native_id="1"), None, fetched_at=T0)
    item_id = store.items.create_queue_item("x:1", priority="high", score=70, channel="", now=T0)
    assert item_id is not None
    store.replies.reserve_reply("k1", item_id=item_id, post_key="x:1", text="On it", now=T0)
    a_until, b_until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)
    later = T0 + timedelta(minutes=4)
    assert store.replies.lease_reply("k1", item_id=item_id, now=T0, until=a_until)
    assert not store.replies.lease_reply("k1", item_id=item_id, now=T0 + timedelta(minutes=2), until=b_until)
    assert store.replies.lease_reply("k1", item_id=item_id, now=later, until=b_until)  # A's ran out: B takes it

    store.replies.release_reply("k1", until=a_until)  # A ends late

    assert store.replies.reply_lease_until(item_id, now=later) == iso(b_until)
    assert not store.replies.lease_reply("k1", item_id=item_id, now=later, until=later + timedelta(minutes=3))
    store.replies.release_reply("k1", until=b_until)
    assert store.replies.reply_lease_until(item_id, now=later) is None
