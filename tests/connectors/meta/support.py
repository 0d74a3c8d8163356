"""Builders for the Meta connector tests: the fake Graph server, connectors made by
`from_config` pointed at it, and a hand-moved clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from connectors.meta import FacebookConnector, InstagramConnector
from tests.fakes.graph_api import T0, FakeGraph
from watcher.core.config import SourceConfig

NOW = T0
ANA = ("2001", "Ana Popescu")
GIO = ("2002", "Giovanni Rossi")
IG_ANA = ("3001", "ana.pop")
IG_GIO = ("3002", "gio.rossi")
ENV = {"FACEBOOK_PAGE_TOKEN": "page-token", "INSTAGRAM_TOKEN": "page-token", "META_APP_TOKEN": "app|secret"}


class Clock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def running_fake() -> Iterator[FakeGraph]:
    fake = FakeGraph().start()
    try:
        yield fake
    finally:
        fake.stop()


def source(kind: str, fake: FakeGraph, name: str = "", **options: Any) -> SourceConfig:
    options.setdefault("graph_url", fake.base_url)
    options.setdefault("timeout_seconds", 5.0)
    if kind == "facebook":
        options.setdefault("page_id", fake.page_id)
    else:
        options.setdefault("account_id", fake.ig_id)
        options.setdefault("username", fake.ig_username)
    return SourceConfig(name=name or f"{kind}_main", kind=kind, options=options, backfill_hours=48)


def facebook(fake: FakeGraph, clock: Clock, env: dict[str, str] | None = None, **options: Any) -> FacebookConnector:
    connector = FacebookConnector.from_config(source("facebook", fake, **options), env if env is not None else ENV)
    connector.clock = connector.client.clock = clock
    return connector


def instagram(fake: FakeGraph, clock: Clock, **options: Any) -> InstagramConnector:
    connector = InstagramConnector.from_config(source("instagram", fake, **options), ENV)
    connector.clock = connector.client.clock = clock
    return connector
