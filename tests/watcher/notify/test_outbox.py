"""The outbox flush: delivered once, leased against a second flush, retried when asked."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tests.helpers import T0
from watcher.core.item import OutboxRow
from watcher.notify.outbox import DeliveryRetry, OutboxHold, flush_outbox
from watcher.store import Store


class Recorder:
    def __init__(self, *, retry: bool = False, after_seconds: float = 30) -> None:
        self.rows: list[int] = []
        self.retry = retry
        self.after_seconds = after_seconds

    def deliver(self, row: OutboxRow) -> str:
        if self.retry:
            raise DeliveryRetry("service busy", after_seconds=self.after_seconds)
        self.rows.append(row.id)
        return f"ref-{row.id}"


def test_each_row_is_delivered_once(store: Store) -> None:
    for n in range(3):
        store.outbox.enqueue_outbox("card", f"card:x:{n}", {"post_key": f"x:{n}"}, now=T0)
    notifier = Recorder()
    assert flush_outbox(store, notifier, clock=lambda: T0).sent == 3
    assert flush_outbox(store, notifier, clock=lambda: T0).sent == 0
    assert len(notifier.rows) == 3 and store.outbox.outbox_counts() == {"sent": 3}


def test_a_row_leased_by_another_flush_is_left_to_it_until_the_lease_ends(store: Store) -> None:
    row_id = store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    assert row_id is not None
    assert store.outbox.lease_outbox(row_id, now=T0, until=T0 + timedelta(seconds=120))  # another process has it
    notifier = Recorder()
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=60)).sent == 0
    # that process died mid-delivery: after the lease the row goes out again
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=121)).sent == 1
    assert notifier.rows == [row_id]


def test_a_retry_waits_as_long_as_the_service_asks(store: Store) -> None:
    store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    assert flush_outbox(store, Recorder(retry=True), clock=lambda: T0).retrying == 1
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(seconds=29)).sent == 0
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(seconds=31)).sent == 1


def test_a_row_the_service_keeps_putting_off_is_retried_every_fifteen_minutes_and_never_dropped(store: Store) -> None:
    store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    for tick in range(100):  # a day of a service that asks for an hour each time
        now = T0 + timedelta(minutes=15 * tick)
        report = flush_outbox(store, Recorder(retry=True, after_seconds=3600), clock=lambda at=now: at)
        assert report.retrying == 1 and report.failed == 0
    assert store.outbox.outbox_counts() == {"pending": 1}  # the old code gave up on it (failed) after 20
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(hours=25)).sent == 1


def test_a_flush_that_must_wait_warns_once_with_the_oldest_rows_age(store: Store, caplog: Any) -> None:
    for n in range(3):
        store.outbox.enqueue_outbox("card", f"card:x:{n}", {"post_key": f"x:{n}"}, now=T0 + timedelta(minutes=n))
    with caplog.at_level(logging.WARNING, logger="watcher.notify.outbox"):
        flush_outbox(store, Recorder(retry=True), clock=lambda: T0 + timedelta(minutes=135))
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (
        "3 outbox message(s) waiting; the oldest (outbox row 1, card) has waited 2 h 15 min: service busy. "
        "They are retried at least every 15 min until delivered"
    )


class ChannelRefuser(Recorder):
    """Delivers everywhere but `refused`, where the bot is not in the channel."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused
        self.tried: list[int] = []

    def deliver(self, row: OutboxRow) -> str:
        self.tried.append(row.id)
        if row.channel == self.refused:
            raise DeliveryRetry(f"not in {self.refused}", after_seconds=300, channel=self.refused)
        return super().deliver(row)


class OnePoisonedRow:
    """Slack answers 500 to one payload every time, and accepts everything else."""

    def __init__(self, poisoned: int) -> None:
        self.poisoned = poisoned
        self.hold = OutboxHold()
        self.rows: list[int] = []

    def deliver(self, row: OutboxRow) -> str:
        if row.id == self.poisoned:
            raise DeliveryRetry("Slack answered 500", after_seconds=30)
        self.rows.append(row.id)
        return f"ref-{row.id}"


def test_a_row_slack_keeps_refusing_with_a_500_does_not_stall_the_others(store: Store) -> None:
    """A 500 looks like an outage, so the outbox holds; but when the held row is tried
    first again each time the hold ends, one bad payload stopped every card for good."""
    card = store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, item_id=1, now=T0)
    thread = store.outbox.enqueue_outbox("thread", "thread:x:1", {"item_id": 1}, item_id=1, now=T0)
    notifier = OnePoisonedRow(poisoned=card)  # type: ignore[arg-type]
    clock = {"now": T0}
    assert flush_outbox(store, notifier, clock=lambda: clock["now"]).retrying == 1  # an outage, as far as we know
    later = []
    for minute in range(1, 40):
        clock["now"] = T0 + timedelta(minutes=minute)
        later.append(
            store.outbox.enqueue_outbox(
                "card", f"card:x:{minute + 1}", {"post_key": "x"}, item_id=minute + 1, now=clock["now"]
            )
        )
        for tick in range(12):  # the default 5 s tick
            clock["now"] = T0 + timedelta(minutes=minute, seconds=5 * tick)
            flush_outbox(store, notifier, clock=lambda: clock["now"])
    assert set(later) <= set(notifier.rows)  # every other card went out
    assert thread not in notifier.rows  # the card's thread line still waits behind its card
    assert store.outbox.outbox_backlog()["waiting"] == 2


def test_a_channel_that_refuses_holds_only_its_own_rows(store: Store) -> None:
    refused = [store.outbox.enqueue_outbox("card", f"card:x:{n}", {}, now=T0, channel="CSECRET") for n in range(3)]
    other = store.outbox.enqueue_outbox("card", "card:y:1", {}, now=T0, channel="CCARE")
    notifier = ChannelRefuser("CSECRET")
    report = flush_outbox(store, notifier, clock=lambda: T0)
    assert (report.sent, report.retrying, report.held) == (1, 1, False)
    assert notifier.rows == [other]  # the other channel's card went out
    assert notifier.tried == [refused[0], other]  # one refusal stood for the channel's other rows
    assert store.outbox.outbox_counts() == {"pending": 3, "sent": 1}
    # nothing asks the refusing channel again before its wait ends; then one row asks for all
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=299)).retrying == 0
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=300)).retrying == 1
    assert notifier.tried == [refused[0], other, refused[0]]


# a flush in a process of its own whose delivery never returns: the test kills it mid-delivery
_STUCK_FLUSH = """
import sys, time
from datetime import datetime
from watcher.notify.outbox import flush_outbox
from watcher.store import Store

class Stuck:
    def deliver(self, row):
        print("delivering", flush=True)
        time.sleep(600)

flush_outbox(Store(sys.argv[1]), Stuck(), clock=lambda: datetime.fromisoformat(sys.argv[2]))
"""


def test_a_restarted_process_takes_over_the_rows_its_killed_predecessor_held(store: Store) -> None:
    import os
    import signal
    import subprocess
    import sys

    row_id = store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    child = subprocess.Popen(
        [sys.executable, "-c", _STUCK_FLUSH, store.path, T0.isoformat()], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "delivering"
    finally:
        os.kill(child.pid, signal.SIGKILL)  # kill -9 while the message is in flight
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    notifier = Recorder()
    # seconds later, not after the 120 s lease: the lease's owner is gone
    assert flush_outbox(store, notifier, clock=lambda: T0 + timedelta(seconds=5)).sent == 1
    assert notifier.rows == [row_id]


def test_a_lease_held_by_a_live_process_is_left_to_it(store: Store) -> None:
    import os
    import socket

    from watcher.notify.outbox import PROCESS_TOKEN, owner_gone

    row_id = store.outbox.enqueue_outbox("card", "card:x:1", {"post_key": "x:1"}, now=T0)
    assert row_id is not None
    alive = f"{socket.gethostname()}:{os.getppid()}:other"  # pytest's parent: running
    assert store.outbox.lease_outbox(row_id, now=T0, until=T0 + timedelta(seconds=120), owner=alive)
    assert flush_outbox(store, Recorder(), clock=lambda: T0 + timedelta(seconds=5)).sent == 0
    assert not owner_gone(PROCESS_TOKEN, me=PROCESS_TOKEN)
    assert not owner_gone("another-host:1:x", me=PROCESS_TOKEN)  # cannot tell: its lease runs out on its own
    # our own pid under another token: the process this one replaced (a restarted container)
    assert owner_gone(f"{socket.gethostname()}:{os.getpid()}:earlier", me=PROCESS_TOKEN)
