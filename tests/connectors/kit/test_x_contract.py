"""X passes the kit against the fake X API (tweepy talking to 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.x.client import RateWindows, build_client
from connectors.x.connector import XConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.connectors.x.support import BRAND_ID, ENV
from tests.fakes.x_api import FakeX
from watcher.core.post import Post


class XKit(Kit):
    kind = "x"
    malformations = ("null id", "missing text")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeX(brand_id=BRAND_ID, clock=self.clock).start()
        self.fake.add_user("2001", "alice")
        self.timeout = 5.0

    def connector(self) -> XConnector:
        client = build_client(
            bearer_token="test-bearer",
            api_base_url=self.fake.base_url,
            timeout=self.timeout,
            consumer_key=ENV["X_CONSUMER_KEY"],
            consumer_secret=ENV["X_CONSUMER_SECRET"],
            access_token=ENV["X_ACCESS_TOKEN"],
            access_token_secret=ENV["X_ACCESS_TOKEN_SECRET"],
        )
        # a new RateWindows: what a restarted process starts with
        return XConnector(
            client, source="kit", user_id=BRAND_ID, username="acme", rate_windows=RateWindows(), clock=self.clock
        )

    def seed(self, count: int) -> list[str]:
        ids = []
        for n in range(count):
            ids.append(self.fake.add_tweet("2001", f"@acme order {n} is late", at=self.now - timedelta(seconds=30 - n)))
        return ids

    def requests(self) -> int:
        return self.fake.count()

    def rate_limit(self, reset: datetime) -> None:
        self.fake.fail("users_mentions", 429, reset=int(reset.timestamp()))

    def server_error(self) -> None:
        self.fake.fail("users_mentions", 503)

    def malform(self, native_id: str, how: str) -> None:
        self.fake.malform(native_id, **({"id": None} if how == "null id" else {"text": None}))

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.3  # only the connector built after this waits so little
        self.fake.delay_next_post(2.0)

    def replies_to(self, post: Post) -> int:
        return len(self.fake.posted_replies(post.native_id))


class TestXContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = XKit()
        yield kit
        kit.fake.stop()
