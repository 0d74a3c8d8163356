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


def test_fresh_database_is_migrated_to_the_current_version(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as db:
        assert db.schema_version() == SCHEMA_VERSION
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
        } <= set(db.db.table_names())
        assert db.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_run_forward_once_and_keep_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.db"
    with Store(path) as db:
        db.insert_post(make_post("kept"), None, fetched_at=T0)
    calls: list[int] = []

    def add_column(database) -> None:  # type: ignore[no-untyped-def]
        calls.append(1)
        database.table("posts").add_column("topic", str)

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, add_column])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store(path) as db:
        assert db.schema_version() == SCHEMA_VERSION + 1
        assert "topic" in db.db.table("posts").columns_dict
        assert db.count_posts() == 1
    with Store(path) as db:  # reopening does not migrate again
        assert calls == [1]


def test_a_failing_migration_rolls_back_and_keeps_the_old_version(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "w.db"
    Store(path).close()

    def broken(database) -> None:  # type: ignore[no-untyped-def]
        database.table("posts").add_column("half_done", str)
        raise sqlite3.OperationalError("disk on fire")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, broken])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError):
        Store(path)
    monkeypatch.undo()
    with Store(path) as db:
        assert db.schema_version() == SCHEMA_VERSION
        assert "half_done" not in db.db.table("posts").columns_dict


def test_newer_database_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this watcher"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database" * 100, encoding="utf-8")
    with pytest.raises(StoreError, match="not a usable watcher database"):
        Store(path)


def test_cursor_round_trip(store: Store) -> None:
    assert store.get_cursor("x") is None
    store.set_cursor("x", Cursor({"since_id": "123", "pages": [1, 2]}), now=T0)
    assert store.get_cursor("x") == Cursor({"since_id": "123", "pages": [1, 2]})


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
    assert store.insert_post(post, None, fetched_at=T0)
    assert not store.insert_post(post, None, fetched_at=T0)
    assert store.get_post(post.key) == post


def test_outbox_never_holds_the_same_notification_twice(store: Store) -> None:
    first = store.enqueue_outbox("card", "card:x:1", {"item_id": 1}, now=T0)
    again = store.enqueue_outbox("card", "card:x:1", {"item_id": 1}, now=T0)
    assert first is not None and again is None
    assert len(store.due_outbox(now=T0)) == 1


def test_item_updates_are_compare_and_set(store: Store) -> None:
    store.insert_post(make_post(native_id="1"), None, fetched_at=T0)
    item_id = store.create_queue_item("x:1", priority="high", score=70, channel="", now=T0)
    assert item_id is not None
    assert store.create_queue_item("x:1", priority="high", score=70, channel="", now=T0) is None
    item = store.get_item(item_id)
    assert item is not None
    assert store.update_item(item_id, expected_version=item["version"], changes={"state": "claimed"}, now=T0)
    assert not store.update_item(item_id, expected_version=item["version"], changes={"state": "new"}, now=T0)
    assert [e["action"] for e in store.events_for_item(item_id)] == ["created"]


def test_store_is_safe_across_threads(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for n in range(50):
                with store.transaction():
                    store.insert_post(make_post(native_id=f"{offset}-{n}", author=f"a{offset}"), None, fetched_at=T0)
                    store.set_cursor(f"s{offset}", Cursor({"n": n}), now=T0)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_posts() == 200
    assert store.get_cursor("s3") == Cursor({"n": 49})


def test_a_send_whose_lease_ran_out_cannot_end_the_lease_another_send_took_since(store: Store) -> None:
    """Send A stalls past its lease, send B takes the item; when A finally ends, its release
    must leave B's lease alone, or a third send could post beside B."""
    store.insert_post(make_post(native_id="1"), None, fetched_at=T0)
    item_id = store.create_queue_item("x:1", priority="high", score=70, channel="", now=T0)
    assert item_id is not None
    store.reserve_reply("k1", item_id=item_id, post_key="x:1", text="On it", now=T0)
    a_until, b_until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)
    later = T0 + timedelta(minutes=4)
    assert store.lease_reply("k1", item_id=item_id, now=T0, until=a_until)
    assert not store.lease_reply("k1", item_id=item_id, now=T0 + timedelta(minutes=2), until=b_until)
    assert store.lease_reply("k1", item_id=item_id, now=later, until=b_until)  # A's ran out: B takes it

    store.release_reply("k1", until=a_until)  # A ends late

    assert store.reply_lease_until(item_id, now=later) == iso(b_until)
    assert not store.lease_reply("k1", item_id=item_id, now=later, until=later + timedelta(minutes=3))
    store.release_reply("k1", until=b_until)
    assert store.reply_lease_until(item_id, now=later) is None
