"""The App Store passes the kit against the fake App Store Connect API."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.app_store import AppStoreConnector
from tests.connectors.app_store.support import app_store, start_fake
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.app_store_api import REVIEWS
from watcher.core.post import Post


class AppStoreKit(Kit):
    kind = "app_store"
    malformations = ("no id", "rating out of range", "bad createdDate")

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.fake = start_fake(self.clock, page_size=2)
        self.timeout = 5.0
        self.made: list[AppStoreConnector] = []
        self.seeded = 0

    def connector(self) -> AppStoreConnector:
        connector = app_store(self.fake, self.folder, timeout_seconds=self.timeout)
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
        elif how == "rating out of range":
            review["attributes"]["rating"] = 0
        else:
            review["attributes"]["createdDate"] = "yesterday"

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.5
        self.fake.reply_delay = 2.0

    def replies_to(self, post: Post) -> int:
        return self.fake.responses_created.get(post.native_id, 0)


class TestAppStoreContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        with tempfile.TemporaryDirectory() as folder:
            kit = AppStoreKit(Path(folder))
            yield kit
            for connector in kit.made:
                connector.close()
            kit.fake.stop()
