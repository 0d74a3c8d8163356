"""Reddit passes the kit against the fake Reddit (praw talking to 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from connectors.reddit.connector import RedditConnector, RequestMeter, build_streams, make_reddit
from tests.connectors.kit.contract import ConnectorContract, Kit
from tests.fakes.reddit_api import T_START, FakeReddit
from watcher.core.post import Post

BRAND = "LumoSupport"
LISTING = "/r/LumoBank/new"


class RedditKit(Kit):
    kind = "reddit"
    malformations = ("null created_utc", "huge created_utc", "no name")

    def __init__(self) -> None:
        super().__init__()
        self.now = datetime.fromtimestamp(T_START + 6 * 3600, UTC)  # the fake's things are made from T_START on
        self.fake = FakeReddit(username=BRAND).start()
        self.fake.add_subreddit("LumoBank")
        self.timeout = 5.0
        self.sessions: list[requests.Session] = []

    def connector(self) -> RedditConnector:
        meter = RequestMeter(clock=self.clock)
        http = requests.Session()
        self.sessions.append(http)
        reddit = make_reddit(
            session=http,
            client_id="fake-client",
            client_secret="fake-secret",
            user_agent="python:watcher-kit:0.1 (by /u/LumoSupport)",
            meter=meter,
            oauth_url=self.fake.url,
            reddit_url=self.fake.url,
            username=BRAND,
            password="fake-password",
            timeout=self.timeout,
        )
        streams = build_streams(mode="subreddit", subreddits=("LumoBank",), include_comments=False)
        return RedditConnector(
            reddit,
            meter=meter,
            streams=streams,
            source="kit",
            brand_account=BRAND,
            can_reply=True,
            author_karma=False,
            clock=self.clock,
            http=http,
        )

    def seed(self, count: int) -> list[str]:
        return [self.fake.add_submission("LumoBank", f"order {n} is late", author="ann")["name"] for n in range(count)]

    def requests(self) -> int:
        return len(self.fake.requests)

    def rate_limit(self, reset: datetime) -> None:
        self.fake.fail_next(LISTING, status=429, retry_after=str(int((reset - self.now).total_seconds())))

    def server_error(self) -> None:
        self.fake.fail_next(LISTING, status=503)

    def malform(self, native_id: str, how: str) -> None:
        fields = {"null created_utc": {"created_utc": None}, "huge created_utc": {"created_utc": 1e20}}
        self.fake.corrupt(native_id, **fields.get(how, {"name": None}))

    def reply_times_out_after_posting(self) -> None:
        self.timeout = 0.3
        self.fake.hang_after_replies = 1

    def replies_to(self, post: Post) -> int:
        return len(self.fake.replies_by(BRAND))


class TestRedditContract(ConnectorContract):
    @pytest.fixture
    def kit(self) -> Iterator[Kit]:
        kit = RedditKit()
        yield kit
        for session in kit.sessions:
            session.close()
        kit.fake.stop()
