"""One queue send in a process of its own, for tests that kill it mid-send (a real
crash: no `finally` runs, the lease and the `sending` state stay behind).

    python -m tests.watcher.send_child DB X_BASE_URL ITEM_ID NOW_ISO
"""

from __future__ import annotations

import sys
from datetime import datetime

from connectors.x import RateWindows, XConnector, build_client
from tests.connectors.x_support import BRAND_ID, ENV
from watcher.queue import Queue
from watcher.store import Store


def main(argv: list[str]) -> None:
    db, base_url, item_id, now = argv
    moment = datetime.fromisoformat(now)
    client = build_client(
        bearer_token=ENV["X_BEARER_TOKEN"],
        api_base_url=base_url,
        timeout=120.0,  # the fake holds the answer until the test kills this process
        consumer_key=ENV["X_CONSUMER_KEY"],
        consumer_secret=ENV["X_CONSUMER_SECRET"],
        access_token=ENV["X_ACCESS_TOKEN"],
        access_token_secret=ENV["X_ACCESS_TOKEN_SECRET"],
    )
    connector = XConnector(
        client, rate_windows=RateWindows(), clock=lambda: moment, user_id=BRAND_ID, username="acme", mode="mentions"
    )
    Queue(Store(db), clock=lambda: moment).send(int(item_id), "lead", connector)


if __name__ == "__main__":
    main(sys.argv[1:])
