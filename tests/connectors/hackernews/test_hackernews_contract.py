"""Hacker News passes the kit against the fake Algolia API (read-only: no reply test)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.hackernews import HackerNewsConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.hackernews_api import FakeAlgolia
from watcher.core.config import SourceConfig


class HackerNewsKit(Kit):
    kind = "hackernews"
    supports = frozenset({"rate_limit", "server_error"})  # read-only: no reply
    malformations = ("no author", "no objectID")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeAlgolia().start()
        self.made: list[HackerNewsConnector] = []

    def connector(self) -> HackerNewsConnector:
        options = {"search": ["lumo"], "base_url": f"{self.fake.base_url}/api/v1", "timeout_seconds": 5.0}
        connector = HackerNewsConnector.from_config(SourceConfig(name="kit", kind="hackernews", options=options), {})
        connector.clock = self.clock
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        return [self.fake.add_story(f"Lumo order {n} is late", self.now - timedelta(seconds=count - n), by="kit")
                for n in range(count)]  # fmt: skip

    def requests(self) -> int:
        return len(self.fake.requests)

    def rate_limit(self, reset: datetime) -> None:
        self.fake.fail(status=429, headers={"Retry-After": str(int((reset - self.now).total_seconds()))})

    def server_error(self) -> None:
        self.fake.fail(status=503)

    def malform(self, native_id: str, how: str) -> None:
        self.fake.items[native_id]["author" if how == "no author" else "objectID"] = None


class TestHackerNewsContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = HackerNewsKit()
        yield kit
        for connector in kit.made:
            connector.close()
        kit.fake.stop()
