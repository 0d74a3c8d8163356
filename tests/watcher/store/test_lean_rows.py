"""What a stored row costs: compact JSON, sent outbox payloads cleared a day on, and the
partial indexes that hold only the rows still waiting."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import T0, make_post
from watcher.store import Store
from watcher.store.posts import NewPost, StoredTriage


def test_triage_columns_and_audit_detail_are_compact_json(store: Store) -> None:
    triage = StoredTriage(70, "high", True, -0.5, "negative", "it", ("billing", "refund"), ("è caro (+5)", "b"))
    store.posts.insert_posts([NewPost(make_post(native_id="1"), triage)], fetched_at=T0)
    assert store.db.execute("SELECT intents FROM posts").fetchone()[0] == '["billing","refund"]'
    assert store.posts.post_triage("x:1") == triage
    store.items.create_queue_item("x:1", priority="high", score=70, channel="#c", now=T0)
    assert store.db.execute("SELECT detail FROM events").fetchone()[0] == '{"priority":"high","score":70}'


def test_each_reasons_words_are_stored_once_and_read_back_in_order(store: Store) -> None:
    first = StoredTriage(70, "high", True, 0.0, "neutral", "en", ("refund",), ("b (+5)", "a", "b (+5)"))
    second = StoredTriage(60, "high", True, 0.0, "neutral", "en", ("refund",), ("a", "c"))
    store.posts.insert_posts([NewPost(make_post(native_id="1"), first)], fetched_at=T0)
    store.posts.insert_posts([NewPost(make_post(native_id="2"), second)], fetched_at=T0)
    assert store.db.execute("SELECT COUNT(*) FROM reason_texts").fetchone()[0] == 3
    assert [store.posts.post_triage(k) for k in ("x:1", "x:2")] == [first, second]
    store.items.create_queue_item("x:1", priority="high", score=70, channel="#c", now=T0)
    (row,) = store.items.queue_rows()
    assert row.reasons == ("b (+5)", "a", "b (+5)")
    # a row written with the words themselves (before reason_texts) reads back as it is
    store.db.execute("""UPDATE posts SET reasons = '["old words (+5)"]' WHERE key = 'x:2'""")
    triage = store.posts.post_triage("x:2")
    assert triage is not None and triage.reasons == ("old words (+5)",)


def test_a_sent_rows_payload_is_cleared_a_day_on_and_the_row_stays(store: Store) -> None:
    first = store.outbox.enqueue_outbox("text", "a", {"text": "hello"}, now=T0)
    second = store.outbox.enqueue_outbox("text", "b", {"text": "later"}, now=T0)
    waiting = store.outbox.enqueue_outbox("text", "c", {"text": "waiting"}, now=T0)
    assert first and second and waiting
    store.outbox.mark_outbox_sent(first, ref="1.1", now=T0)
    store.outbox.mark_outbox_sent(second, ref="1.2", now=T0 + timedelta(days=1))
    assert store.outbox.prune_payloads(T0 + timedelta(hours=1), batch=1) == 1
    payloads = dict(store.db.execute("SELECT dedupe_key, payload FROM outbox").fetchall())
    assert payloads == {"a": None, "b": '{"text":"later"}', "c": '{"text":"waiting"}'}
    assert store.outbox.enqueue_outbox("text", "a", {"text": "hello"}, now=T0) is None  # still never twice
    assert [row.dedupe_key for row in store.outbox.due_outbox(now=T0)] == ["c"]


def test_outbox_counts_by_status(store: Store) -> None:
    assert store.outbox.outbox_counts() == {}
    ids = [store.outbox.enqueue_outbox("text", key, {"text": key}, now=T0) for key in "abcd"]
    assert all(ids)
    store.outbox.mark_outbox_sent(ids[0] or 0, ref="1", now=T0)
    store.outbox.mark_outbox_sent(ids[1] or 0, ref="2", now=T0)
    store.outbox.mark_outbox_failed(ids[2] or 0, error="channel_not_found")
    assert store.outbox.outbox_counts() == {"sent": 2, "failed": 1, "pending": 1}
    backlog = store.outbox.outbox_backlog()
    assert (backlog["sent"], backlog["waiting"], backlog["failed"]) == (2, 1, 1)


def plan(store: Store, sql: str, params: list[object]) -> str:
    return " ".join(str(row[-1]) for row in store.db.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_waiting_rows_and_kept_payloads_are_read_through_their_partial_indexes(store: Store) -> None:
    due = "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT 5"
    assert "idx_outbox_status_next_attempt_at" in plan(store, due, ["2026"])
    failed = "SELECT id FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT 1"
    assert "idx_outbox_status_next_attempt_at" in plan(store, failed, [])
    raw = "SELECT post_key FROM post_raw WHERE created_at < ? ORDER BY created_at LIMIT 5"
    assert "USING PRIMARY KEY" in plan(store, raw, ["2026"])
