"""The ranked queue is read in order from an index and in pages, never sorted (issue #21),
and its rows are typed (issue #15)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.helpers import T0, make_post
from watcher.core.item import QueueItem, QueueRow
from watcher.core.vocab import OPEN_STATES, PRIORITIES, Priority, QueueState
from watcher.store import Store
from watcher.store.items import priority_rank


def fill(store: Store, n: int = 24) -> None:
    """Items of every priority, scores and post times mixed, some closed."""
    for i in range(n):
        post = make_post(f"post {i}", native_id=str(i), created_at=T0 + timedelta(minutes=(i * 7) % 11))
        store.posts.insert_post(post, None, fetched_at=T0)
        store.items.create_queue_item(post.key, priority=PRIORITIES[i % 4], score=(i * 13) % 5, channel="", now=T0)
    for item_id in (3, 8)[: n // 8]:
        item = store.items.get_item(item_id)
        assert item is not None
        store.items.update_item(item_id, expected_version=item.version, changes={"state": "replied"}, now=T0)


def expected_order(rows: list[QueueRow]) -> list[int]:
    return [
        r.item.id for r in sorted(rows, key=lambda r: (r.item.priority.rank, -r.item.score, r.created_at, r.item.id))
    ]


def test_open_items_come_urgent_first_then_by_score_then_oldest_post(store: Store) -> None:
    fill(store)
    rows = store.items.queue_rows(limit=100)
    assert len(rows) == 22 and {r.item.state for r in rows} <= set(OPEN_STATES)
    assert [r.item.id for r in rows] == expected_order(rows)
    assert rows[0].item.priority is Priority.URGENT


def test_pages_after_the_last_row_walk_the_whole_ranking_once(store: Store) -> None:
    fill(store)
    whole = [r.item.id for r in store.items.queue_rows(limit=100)]
    paged: list[int] = []
    after = None
    while page := store.items.queue_rows(limit=5, after=after):
        paged.extend(r.item.id for r in page)
        after = page[-1]
    assert paged == whole
    assert [r.item.id for r in store.items.iter_queue_rows(page=3)] == whole


def test_an_escalated_item_moves_up_with_its_priority(store: Store) -> None:
    fill(store)
    last = store.items.queue_rows(limit=100)[-1]
    assert last.item.priority is Priority.LOW
    item = store.items.get_item(last.item.id)
    assert item is not None
    store.items.update_item(last.item.id, expected_version=item.version, changes={"priority": "urgent"}, now=T0)
    rows = store.items.queue_rows(limit=100)
    assert [r.item.id for r in rows] == expected_order(rows)
    assert next(r for r in rows if r.item.id == last.item.id).item.priority is Priority.URGENT


@pytest.mark.parametrize(
    ("states", "priority", "platform", "after"),
    [
        (OPEN_STATES, None, None, False),  # `watcher queue`, the demo, the native-reply check
        (("new",), None, None, False),  # the SLA sweep
        (("new", "claimed"), "high", "x", True),  # `watcher queue --state new --state claimed ...`, page 2
        (("replied",), None, None, True),  # one closed state
    ],
)
def test_the_queue_is_read_through_an_index_without_sorting(store: Store, states, priority, platform, after) -> None:
    fill(store)
    first = store.items.queue_rows(states=states, limit=1)
    sql_seen: list[str] = []
    store.db.conn.set_trace_callback(sql_seen.append)
    store.items.queue_rows(
        states=states, priority=priority, platform=platform, limit=5, after=first[0] if after and first else None
    )
    store.db.conn.set_trace_callback(None)
    query = next(s for s in sql_seen if "FROM queue_items q" in s)
    plans = [str(row[3]) for row in store.db.execute("EXPLAIN QUERY PLAN " + query).fetchall()]
    assert not any("TEMP B-TREE" in p for p in plans), plans
    assert any("queue_open" in p or "queue_state" in p for p in plans), plans


def test_priority_rank_is_the_vocabulary_order(store: Store) -> None:
    assert [priority_rank(p) for p in PRIORITIES] == list(range(len(PRIORITIES)))
    assert priority_rank("nonsense") == len(PRIORITIES)


def test_items_are_typed_and_the_json_line_keeps_its_keys(store: Store) -> None:
    fill(store, 4)
    item = store.items.get_item(1)
    assert isinstance(item, QueueItem) and item.state is QueueState.NEW and item.priority is Priority.URGENT
    assert item.created_at == T0 and item.escalated is False
    line = store.items.queue_rows(limit=1)[0].as_json()
    json.dumps(line)  # plain JSON
    assert set(line) == {
        "id", "state", "priority", "score", "assignee", "repeat_count", "sla_due_at", "channel", "escalated",
        "post_key", "platform", "text", "created_at", "url", "lang", "reasons", "intents", "sentiment", "handle",
        "followers", "item_created_at",
    }  # fmt: skip
