"""Shared set-up for the Slack tests: a fake Slack on 127.0.0.1, a store with
queued posts, and the real slack-sdk client pointed at the fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from connectors.base import Connector, FetchResult
from rules.triage import Triage, TriageContext
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, running_fake_slack
from watcher.config import Config, parse_config
from watcher.core.post import Author, Post, PostKind
from watcher.ingest.pipeline import Pipeline
from watcher.slack.runtime import SlackRuntime
from watcher.store import Store

# Monday 2026-11-16 10:00 in Rome (09:00 UTC): inside business hours
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
ANA, LUCA, MIRA, EVE = "UANA", "ULUCA", "UMIRA", "UEVE"


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_config(tmp_path: Path, base_url: str, *, sources: dict[str, Any] | None = None, **slack: Any) -> Config:
    table: dict[str, Any] = {
        "enabled": True,
        "api_base_url": base_url,
        "channel": "CCARE",
        "escalation_channel": "CESC",
        "escalation_group": "SESC",
        "moderators": [ANA, LUCA, "SMODS"],
        "templates": {
            "question": {"en": ["Hi {handle}, thanks for asking! -{agent}"]},
            "default": {"any": ["Hello {name}"]},
        },
    }
    table.update(slack)
    return parse_config(
        {
            "brand": {"name": "Acme", "timezone": "Europe/Rome"},
            "storage": {"path": str(tmp_path / "w.db")},
            "slack": table,
            "sources": sources or {},
        },
        file=str(tmp_path / "config.toml"),
    )


def fixed_triage(post: Post, ctx: TriageContext) -> Triage:
    """Priority from the post's raw record, so each test picks what it needs."""
    priority = str(post.raw.get("priority", "normal"))
    score = {"urgent": 90, "high": 70, "normal": 50, "low": 20}[priority]
    return Triage(
        score=score,
        priority=priority,
        needs_reply=True,
        sentiment=-0.4,
        sentiment_label="negative",
        lang=post.lang or "en",
        intents=tuple(post.raw.get("intents", ["question"])),
        reasons=("negative -0.40", "question or request"),
        channel=str(post.raw.get("channel", "")),
    )


def make_post(
    native_id: str,
    text: str = "Where is my refund?",
    *,
    priority: str = "normal",
    platform: str = "x",
    handle: str = "carla",
    created_at: datetime | None = None,
    conversation_id: str | None = None,
    **extra: Any,
) -> Post:
    return Post(
        platform=platform,
        native_id=native_id,
        kind=PostKind.MENTION,
        text=text,
        created_at=created_at or START - timedelta(minutes=5),
        author=Author(id=f"id-{handle}", handle=handle, display_name=handle.title(), followers=1234),
        url=f"https://x.com/{handle}/status/{native_id}",
        lang="en",
        source="x_mentions",
        conversation_id=conversation_id,
        raw={"priority": priority, **extra},
    )


def ingest(store: Store, config: Config, clock: Clock, *posts: Post) -> list[int]:
    Pipeline(store, config, triage_fn=fixed_triage, clock=clock).ingest(
        "x_mentions", FetchResult(posts=posts, cursor=None)
    )
    items = [store.items.item_for_post(p.key) for p in posts]
    return [i.id for i in items if i is not None]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with running_fake_slack(usergroups={"SMODS": [MIRA], "SESC": [LUCA]}) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config(tmp_path: Path, fake: FakeSlack) -> Config:
    return make_config(tmp_path, fake.base_url)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store(config.storage.path) as db:
        yield db


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake.base_url, retry_handlers=[])


class RecordingConnector(Connector):
    """A connector that records replies; `fail_with` makes the next reply raise."""

    name = "x"
    max_reply_length = 280

    def __init__(self) -> None:
        self.replies: list[tuple[str, str]] = []
        self.fail_with: Exception | None = None
        self.posted_anyway = False
        self.native: dict[str, Any] = {}
        self.batches: list[list[str]] = []  # the posts of each find_own_replies call

    def fetch(self, cursor: Any) -> FetchResult:
        return FetchResult(posts=(), cursor=cursor)

    def reply(self, post: Post, text: str) -> Any:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            if self.posted_anyway:  # the platform posted it, then the answer was lost
                self.replies.append((post.key, text))
            raise error
        self.replies.append((post.key, text))
        return self._posted(post, len(self.replies))

    def _posted(self, post: Post, number: int) -> Any:
        from connectors.base import PostedReply

        return PostedReply(post.platform, f"r{number}", f"https://x.com/acme/status/r{number}", START)

    def find_own_reply(self, post: Post, text: str | None = None) -> Any:
        for number, (key, said) in enumerate(self.replies, start=1):
            if key == post.key and (text is None or said == text):
                return self._posted(post, number)
        return self.native.get(post.key)

    def find_own_replies(self, posts: Any) -> dict[str, Any]:
        from connectors.base import own_replies_one_by_one

        self.batches.append([p.key for p in posts])
        return own_replies_one_by_one(self, posts)

    @classmethod
    def from_config(cls, cfg: Any, env: Any) -> RecordingConnector:
        return cls()


def blocks_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def make_runtime(store: Store, config: Config, client: WebClient, clock: Clock, connector: Any) -> SlackRuntime:
    """A runtime whose connector_for always answers `connector`; pacing recorded, not slept."""
    return SlackRuntime(
        config=config,
        store=store,
        client=client,
        connector_for=lambda post: connector,
        clock=clock,
        sleep=lambda s: None,
    )
