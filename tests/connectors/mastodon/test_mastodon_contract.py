"""Mastodon passes the kit against the fake instance (Mastodon.py on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.mastodon import MastodonConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.mastodon_api import FakeMastodon
from watcher.core.config import SourceConfig
from watcher.core.post import Post

MENTIONS = "/api/v1/notifications"


class MastodonKit(Kit):
    kind = "mastodon"
    malformations = ("no content",)

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeMastodon().start()
        self.timeout = 5.0
        self.made: list[MastodonConnector] = []

    def connector(self) -> MastodonConnector:
        options = {"instance_url": self.fake.base_url, "timeout_seconds": self.timeout}
        cfg = SourceConfig(name="kit", kind="mastodon", options=options)
        connector = MastodonConnector.from_config(cfg, {"MASTODON_ACCESS_TOKEN": self.fake.token})
        connector.client.meter.clock = self.clock
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        return [self.fake.add_status(f"@lumo order {n} is late", self.now - timedelta(seconds=count - n), by=("9", "kit"))
                for n in range(count)]  # fmt: skip

    def requests(self) -> int:
        return self.fake.count()

    def rate_limit(self, reset: datetime) -> None:
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()}
        self.fake.fail(MENTIONS, status=429, error="Too many requests", headers=headers)

    def server_error(self) -> None:
        self.fake.fail(MENTIONS, status=503, error="Service Unavailable")

    def malform(self, native_id: str, how: str) -> None:
        self.fake.malformed.add(native_id)

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.3
        self.fake.post_delay = 1.0

    def replies_to(self, post: Post) -> int:
        return len(self.fake.replies_by_brand(post.native_id))


class TestMastodonContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = MastodonKit()
        yield kit
        for connector in kit.made:
            connector.close()
        kit.fake.stop()
