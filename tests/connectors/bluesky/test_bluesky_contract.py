"""Bluesky passes the kit against the fake PDS (the atproto SDK talking to 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.bluesky import BlueskyConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.bluesky_api import BRAND, FakeBluesky
from watcher.core.config import SourceConfig
from watcher.core.post import Post

NOTIFICATIONS = "app.bsky.notification.listNotifications"


class BlueskyKit(Kit):
    kind = "bluesky"
    malformations = ("no text", "no indexedAt")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeBluesky().start()
        self.timeout = 5.0
        self.made: list[BlueskyConnector] = []

    def connector(self) -> BlueskyConnector:
        options = {"handle": BRAND[1], "base_url": self.fake.base_url, "timeout_seconds": self.timeout}
        cfg = SourceConfig(name="kit", kind="bluesky", options=options)
        connector = BlueskyConnector.from_config(cfg, {"BLUESKY_APP_PASSWORD": self.fake.password})
        connector.client.meter.clock = self.clock
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        who = ("did:plc:kit00000000000000000000000", "kit.bsky.social")
        return [self.fake.add_post(f"@{BRAND[1]} order {n} is late", self.now - timedelta(seconds=count - n), by=who)
                for n in range(count)]  # fmt: skip

    def requests(self) -> int:
        return self.fake.count()

    def rate_limit(self, reset: datetime) -> None:
        headers = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(reset.timestamp()))}
        self.fake.fail(NOTIFICATIONS, status=429, error="RateLimitExceeded", message="Rate Limit Exceeded",
                       headers=headers)  # fmt: skip

    def server_error(self) -> None:
        self.fake.fail(NOTIFICATIONS, status=503, error="InternalServerError", message="Service Unavailable")

    def malform(self, native_id: str, how: str) -> None:
        post = self.fake.posts[native_id]
        if how == "no text":
            del post["record"]["text"]
        else:
            post["indexedAt"] = None

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.3
        self.fake.write_delay = 1.0

    def replies_to(self, post: Post) -> int:
        return len(self.fake.replies_by_brand(post.native_id))


class TestBlueskyContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = BlueskyKit()
        yield kit
        for connector in kit.made:
            connector.close()
        kit.fake.stop()
