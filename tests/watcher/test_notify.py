"""The outbox flush: delivered once, leased against a second flush, retried when asked."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import T0
from watcher.notify import DeliveryRetry, flush_outbox
from watcher.store import Store


class Recorder:
    def __init__(self, *, retry: bool = False) -> None:
        self.rows: list[int] = []
        self.retry = retry

    def deliver(self, row: dict[str, Any]) -> str:
        if self.retry:
            raise DeliveryRetry("service busy", after_seconds=30)
        self.rows.append(row["id"])
        return f"ref-{row['id']}"


def test_each_row_is_delivered_once(store: Store) -> None:
    for n in range(3):
        store.enqueue_outbox("card", f"card:x:{n}", {"post_key": f"x:{n}"}, now=T0)
    notifier = Recorder()
    assert flush_outbox(store, notifier, clock=lambda: T0).sent == 3
    assert flush_outbox(store, notifier, clock=lambda: T0).sent == 0
    assert len(notifier.rows) == 3 and store.outbox_counts() == {"sent": 3}


def test_a_row_leased_by_another_flush_is_left_to_it_until_the_lease_ends(store: Store) -> None:
    row_id = store.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    assert row_id is not None
    assert store.lease_outbox(row_id, now=T0, until=T0 + timedelta(seconds=120))  # another process has it
    notifier = Recorder()
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=60)).sent == 0
    # that process died mid-delivery: after the lease the row goes out again
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=121)).sent == 1
    assert notifier.rows == [row_id]


def test_a_retry_waits_as_long_as_the_service_asks(store: Store) -> None:
    store.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    assert flush_outbox(store, Recorder(retry=True), clock=lambda: T0).retrying == 1
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(seconds=29)).sent == 0
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(seconds=31)).sent == 1
