"""Google Play passes the kit against the fake Play API (google-api-python-client and
google-auth talking to 127.0.0.1)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.google_play import GooglePlayConnector
from tests.connectors.google_play.support import play
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.google_play_api import PREFIX, FakePlay
from watcher.core.post import Post


class PlayKit(Kit):
    kind = "google_play"
    malformations = ("no reviewId", "stars out of range", "no lastModified")

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.fake = FakePlay(clock=self.clock, page_size=2).start()  # small pages: paging is exercised
        self.timeout = 5.0
        self.made: list[GooglePlayConnector] = []
        self.seeded = 0

    def connector(self) -> GooglePlayConnector:
        connector = play(self.fake, self.folder, timeout_seconds=self.timeout)
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            self.seeded += 1
            at = self.now - timedelta(minutes=30) + timedelta(seconds=self.seeded)
            ids.append(self.fake.add_review(f"order {self.seeded} is late", 2, at))
        return ids

    def requests(self) -> int:
        return len(self.fake.requests)

    def rate_limit(self, reset) -> None:  # type: ignore[no-untyped-def]
        seconds = int((reset - self.now).total_seconds())
        self.fake.fail_next(PREFIX, 429, reason="rateLimitExceeded", retry_after=str(seconds))

    def server_error(self) -> None:
        self.fake.fail_next(PREFIX, 503, reason="backendError")

    def malform(self, native_id: str, how: str) -> None:
        review = self.fake.reviews[native_id]
        comment = review["comments"][0]["userComment"]
        if how == "no reviewId":
            del review["reviewId"]
        elif how == "stars out of range":
            comment["starRating"] = 9
        else:
            del comment["lastModified"]
            comment["lastModified"] = {"seconds": "soon"}

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.5
        self.fake.reply_delay = 2.0

    def replies_to(self, post: Post) -> int:
        return self.fake.replies_posted.get(post.native_id, 0)


class TestGooglePlayContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        with tempfile.TemporaryDirectory() as folder:
            kit = PlayKit(Path(folder))
            yield kit
            for connector in kit.made:
                connector.close()
            kit.fake.stop()
