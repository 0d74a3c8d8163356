"""X API requests spent by the connector, against a naive poller, on the fake X API.

Two figures, each with a baseline run in the same process:

1. requests per idle poll once caught up (goal 1): the connector asks only for
   posts newer than its cursor; the baseline re-reads the backfill window every
   poll (no cursor), paging through it again;
2. requests made inside a rate-limit window after a 429 (goal 0): the connector
   and poller honour x-rate-limit-reset; the baseline retries every poll.

Run: python bench/x_requests.py   (no network: the fake server listens on 127.0.0.1)
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.base import ConnectorError  # noqa: E402
from connectors.x.connector import RateWindows  # noqa: E402
from tests.connectors.x.support import Clock, make_connector, make_rig, running_fake  # noqa: E402
from tests.fakes.x_api import FakeX  # noqa: E402

MENTIONS = 300
IDLE_POLLS = 20
POLL_EVERY = timedelta(seconds=60)
WINDOW = timedelta(minutes=15)


def seed(fake: FakeX, clock: Clock) -> None:
    fake.add_user("2001", "alice")
    for n in range(MENTIONS):
        fake.add_tweet(
            "2001", f"@acme question number {n}?", at=clock.now - timedelta(hours=20) + timedelta(minutes=4 * n)
        )


def idle_requests(*, stateful: bool) -> float:
    clock = Clock()
    with running_fake(clock) as fake, tempfile.TemporaryDirectory() as folder:
        seed(fake, clock)
        connector = make_connector(fake, clock, mode="mentions", max_results=100, max_pages=10)
        rig = make_rig(Path(folder), clock, {"mentions": connector})
        rig.poll("mentions")  # backfill
        before = fake.count()
        for _ in range(IDLE_POLLS):
            clock.now += POLL_EVERY
            if stateful:
                rig.poll("mentions")
            else:
                result = connector.fetch(None)
                while result.has_more:
                    result = connector.fetch(result.cursor)
        spent = fake.count() - before
        rig.store.close()
    return spent / IDLE_POLLS


def window_requests(*, honour_reset: bool) -> int:
    clock = Clock()
    with running_fake(clock) as fake, tempfile.TemporaryDirectory() as folder:
        seed(fake, clock)
        reset = clock.now + WINDOW
        fake.set_limit("users_mentions", limit=450, remaining=0, reset=reset)
        connector = make_connector(fake, clock, mode="mentions", max_results=100)
        rig = make_rig(Path(folder), clock, {"mentions": connector})
        if honour_reset:
            rig.poll("mentions")  # meets the 429
        else:
            with contextlib.suppress(ConnectorError):
                connector.fetch(None)
        first_429 = fake.count()
        while clock.now + POLL_EVERY < reset:
            clock.now += POLL_EVERY
            if honour_reset:
                rig.poll("mentions")
            else:
                connector.rate_windows = RateWindows()  # forgets the window, like a poller that just retries
                with contextlib.suppress(ConnectorError):
                    connector.fetch(None)
        spent = fake.count() - first_429
        rig.store.close()
    return spent


def main() -> None:
    ours_idle = idle_requests(stateful=True)
    naive_idle = idle_requests(stateful=False)
    ours_window = window_requests(honour_reset=True)
    naive_window = window_requests(honour_reset=False)
    print(f"{MENTIONS} mentions in the backfill window, {IDLE_POLLS} idle polls, one poll per minute")
    print(
        f"requests per idle poll: connector {ours_idle:.2f}, baseline (no cursor) {naive_idle:.2f}, "
        f"ratio {ours_idle / naive_idle:.3f}"
    )
    print(
        f"requests inside a {WINDOW.seconds // 60}-min rate-limit window after the 429: connector {ours_window}, "
        f"baseline (retry every poll) {naive_window}, ratio {ours_window / naive_window:.3f}"
    )


if __name__ == "__main__":
    main()
