"""YouTube passes the kit against the fake Data API (google-api-python-client on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from connectors.youtube import YouTubeConnector
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.youtube_api import CHANNEL, FakeYouTube
from watcher.core.config import SourceConfig
from watcher.core.post import Post

THREADS = "/youtube/v3/commentThreads"
ENV = {"YOUTUBE_CLIENT_ID": "id", "YOUTUBE_CLIENT_SECRET": "secret", "YOUTUBE_REFRESH_TOKEN": "1//refresh-token"}


class YouTubeKit(Kit):
    kind = "youtube"
    malformations = ("no text", "no publishedAt")

    def __init__(self) -> None:
        super().__init__()
        self.fake = FakeYouTube().start()
        self.timeout = 5.0
        self.made: list[YouTubeConnector] = []

    def connector(self) -> YouTubeConnector:
        options = {"channel_id": CHANNEL[0], "base_url": self.fake.base_url, "token_url": f"{self.fake.base_url}/token",
                   "timeout_seconds": self.timeout}  # fmt: skip
        connector = YouTubeConnector.from_config(SourceConfig(name="kit", kind="youtube", options=options), ENV)
        connector.client.clock = self.clock
        self.made.append(connector)
        return connector

    def seed(self, count: int) -> list[str]:
        who = ("UCkit0000000000000000000", "kit")
        return [self.fake.add_comment("vid001", f"order {n} is late", self.now - timedelta(seconds=count - n), by=who)
                for n in range(count)]  # fmt: skip

    def requests(self) -> int:
        return self.fake.count()

    def rate_limit(self, reset: datetime) -> None:
        wait = str(int((reset - self.now).total_seconds()))
        self.fake.fail(THREADS, status=429, reason="rateLimitExceeded", message="Too many requests",
                       headers={"Retry-After": wait})  # fmt: skip

    def server_error(self) -> None:
        self.fake.fail(THREADS, status=503, reason="backendError", message="Backend Error")

    def malform(self, native_id: str, how: str) -> None:
        original = self.fake._comment
        broken = {"no text": "textDisplay", "no publishedAt": "publishedAt"}[how]

        def comment(c: dict) -> dict:  # type: ignore[type-arg]
            out = original(c)
            if c["id"] == native_id:
                del out["snippet"][broken]
            return out

        self.fake._comment = comment  # type: ignore[method-assign]

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.5
        self.fake.insert_delay = 1.5

    def replies_to(self, post: Post) -> int:
        return len(self.fake.replies_by_channel(post.native_id))


class TestYouTubeContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = YouTubeKit()
        yield kit
        for connector in kit.made:
            connector.close()
        kit.fake.stop()
