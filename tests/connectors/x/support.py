"""Builders for the X connector tests: the fake server, a real tweepy client on it,
and the watcher's own config, store, pipeline and poller around them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.x.connector import RateWindows, XConnector, build_client
from tests.fakes.x_api import FakeX
from watcher.config import Config, parse_config
from watcher.ingest.pipeline import Pipeline
from watcher.ingest.poller import Poller
from watcher.store import Store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BRAND_ID = "1000"
ENV = {
    "X_BEARER_TOKEN": "test-bearer",
    "X_CONSUMER_KEY": "test-consumer-key",
    "X_CONSUMER_SECRET": "test-consumer-secret",
    "X_ACCESS_TOKEN": "1000-test-access-token",
    "X_ACCESS_TOKEN_SECRET": "test-access-secret",
}


class Clock:
    """A hand-moved clock shared by the fake server, the connector and the pipeline."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@contextmanager
def running_fake(clock: Clock) -> Iterator[FakeX]:
    fake = FakeX(brand_id=BRAND_ID, clock=clock).start()
    try:
        yield fake
    finally:
        fake.stop()


def make_connector(
    fake: FakeX,
    clock: Clock,
    *,
    replies: bool = True,
    timeout: float = 5.0,
    windows: RateWindows | None = None,
    bearer: str = "test-bearer",
    **options: Any,
) -> XConnector:
    credentials = (
        {
            "consumer_key": ENV["X_CONSUMER_KEY"],
            "consumer_secret": ENV["X_CONSUMER_SECRET"],
            "access_token": ENV["X_ACCESS_TOKEN"],
            "access_token_secret": ENV["X_ACCESS_TOKEN_SECRET"],
        }
        if replies
        else {}
    )
    client = build_client(bearer_token=bearer, api_base_url=fake.base_url, timeout=timeout, **credentials)
    options.setdefault("user_id", BRAND_ID)
    options.setdefault("username", "acme")
    return XConnector(client, rate_windows=windows or RateWindows(), clock=clock, **options)


def make_config(tmp_path: Path, sources: dict[str, dict[str, Any]]) -> Config:
    data = {
        "brand": {"name": "Acme", "own_accounts": {"x": [BRAND_ID]}},
        "storage": {"path": str(tmp_path / "watcher.db")},
        "sources": sources,
    }
    return parse_config(data, file=str(tmp_path / "config.toml"))


@dataclass
class Rig:
    """A store, pipeline and one poller per source, like the scheduler builds them."""

    store: Store
    config: Config
    pipeline: Pipeline
    pollers: dict[str, Poller]

    def poll(self, name: str) -> Any:
        return self.pollers[name].poll()


def make_rig(tmp_path: Path, clock: Clock, connectors: dict[str, XConnector], *, max_pages: int = 10) -> Rig:
    sources = {name: {"kind": "x", "mode": c.mode, "user_id": BRAND_ID} for name, c in connectors.items()}
    config = make_config(tmp_path, sources)
    store = Store(tmp_path / "watcher.db")
    pipeline = Pipeline(store, config, clock=clock)
    pollers = {
        name: Poller(config.source(name), connector, pipeline, max_pages=max_pages)
        for name, connector in connectors.items()
    }
    return Rig(store, config, pipeline, pollers)


def reopen(rig: Rig, clock: Clock, connectors: dict[str, XConnector], tmp_path: Path) -> Rig:
    """A restart: close the store, build everything again from the same file."""
    rig.store.close()
    return make_rig(tmp_path, clock, connectors)
