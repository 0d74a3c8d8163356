"""Trustpilot passes the kit against the fake Trustpilot API (httpx talking to 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.trustpilot import TrustpilotConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.connectors.trustpilot.support import trustpilot
from tests.fakes.trustpilot_api import REVIEWS, FakeTrustpilot
from watcher.core.post import Post


class TrustpilotKit(Kit):
    kind = "trustpilot"
    malformations = ("no id", "stars out of range", "bad createdAt")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeTrustpilot(clock=self.clock).start()
        self.timeout = 5.0
        self.made: list[TrustpilotConnector] = []
        self.seeded = 0

    def connector(self) -> TrustpilotConnector:
        connector = trustpilot(self.fake, timeout_seconds=self.timeout)
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            self.seeded += 1
            at = self.now - timedelta(minutes=30) + timedelta(seconds=self.seeded)
            ids.append(self.fake.add_review("Late", f"order {self.seeded} is late", 2, at))
        return ids

    def requests(self) -> int:
        return len(self.fake.requests)

    def rate_limit(self, reset: datetime) -> None:
        self.fake.fail_next(REVIEWS, 429, str(int((reset - self.now).total_seconds())))

    def server_error(self) -> None:
        self.fake.fail_next(REVIEWS, 503)

    def malform(self, native_id: str, how: str) -> None:
        review = self.fake.reviews[native_id]
        if how == "no id":
            review["id"] = None
        elif how == "stars out of range":
            review["stars"] = 6
        else:
            review["createdAt"] = "last Tuesday"

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.5
        self.fake.reply_delay = 2.0

    def replies_to(self, post: Post) -> int:
        return self.fake.replies_posted.get(post.native_id, 0)


class TestTrustpilotContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = TrustpilotKit()
        yield kit
        for connector in kit.made:
            connector.close()
        kit.fake.stop()
