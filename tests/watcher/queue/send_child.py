"""One queue send in a process of its own, for tests that kill it mid-send (a real
crash: no `finally` runs, the lease and the `sending` state stay behind).

    python -m tests.watcher.queue.send_child DB X_BASE_URL ITEM_ID NOW_ISO
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from connectors.x.connector import RateWindows, XConnector, build_client
from tests.connectors.x.support import BRAND_ID, ENV
from tests.fakes.x_api import FakeX
from watcher.queue.machine import Queue
from watcher.store import Store


def main(argv: list[str]) -> None:
    db, base_url, item_id, now = argv
    moment = datetime.fromisoformat(now)
    client = build_client(
        bearer_token=ENV["X_BEARER_TOKEN"],
        api_base_url=base_url,
        # the lease is then the 3 minutes the tests expect (it is longer from 13 s); the fake
        # holds the answer (60 s) longer than the test takes to kill this process
        timeout=10.0,
        consumer_key=ENV["X_CONSUMER_KEY"],
        consumer_secret=ENV["X_CONSUMER_SECRET"],
        access_token=ENV["X_ACCESS_TOKEN"],
        access_token_secret=ENV["X_ACCESS_TOKEN_SECRET"],
    )
    connector = XConnector(
        client, rate_windows=RateWindows(), clock=lambda: moment, user_id=BRAND_ID, username="acme", mode="mentions"
    )
    Queue(Store(db), clock=lambda: moment).send(int(item_id), "lead", connector)


ROOT = Path(__file__).resolve().parents[3]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait (up to a minute) for another thread or process to get somewhere."""
    pause = threading.Event()
    for _ in range(6000):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError(f"gave up waiting for {what}")


def kill_mid_send(fake: FakeX, db: Path, item_id: int, post_id: str, *, now: datetime) -> None:
    """A watcher process sends the item at `now` and dies (SIGKILL) once X has created the tweet."""
    fake.delay_next_post(60.0)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.watcher.queue.send_child", str(db), fake.base_url, str(item_id), now.isoformat()],
        cwd=ROOT,
    )
    try:
        wait_for(lambda: bool(fake.posted_replies(post_id)) or child.poll() is not None, "the child's post")
        assert child.poll() is None, "the sending process ended before it could be killed"
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    main(sys.argv[1:])
