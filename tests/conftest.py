"""The suite's shared test kit: one fake clock, one post factory, one store fixture,
and config builders, all in a temporary folder.

Test modules import the plain names (`from tests.conftest import Clock, make_post, T0`)
and ask for the fixtures (`clock`, `store`, `config`, `make_config`) by argument.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, parse_config
from watcher.core.post import Author, Metrics, Post, PostKind
from watcher.store import Store

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BRAND = {
    "name": "Lumo",
    "own_accounts": {"x": ["900000001"]},
    "languages": ["en", "it", "ro", "es", "de", "fr", "pt"],
    "timezone": "Europe/Rome",
}


class Clock:
    """A hand-moved clock: call it for the time; move it with `advance(minutes=5)` or
    by setting `now`. Hand it to whatever takes a `clock` (pipeline, queue, fakes)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


_ids = itertools.count(1)


def make_post(
    text: str = "my card was declined twice, help?",
    *,
    native_id: str | None = None,
    handle: str = "ann",
    minutes: float = 0,
    created_at: datetime | None = None,
    platform: str = "x",
    followers: int = 10,
    verified: bool = False,
    kind: PostKind = PostKind.MENTION,
    metrics: Metrics | None = None,
    **fields: Any,
) -> Post:
    """A post by @handle (author id "id-<handle>"), `minutes` after T0 unless `created_at`
    is given, with a fresh native id unless one is given; other Post fields by keyword."""
    return Post(
        platform=platform,
        native_id=native_id or str(next(_ids)),
        kind=kind,
        text=text,
        created_at=created_at or T0 + timedelta(minutes=minutes),
        author=Author(id=f"id-{handle}", handle=handle, followers=followers, verified=verified),
        metrics=metrics or Metrics(),
        **fields,
    )


@pytest.fixture(autouse=True, scope="session")
def _language_model_read_once() -> Iterator[None]:
    """Each Triager loads py3langid's model (0.3 s of lzma, read-only package data) and the
    suite builds a hundred Triagers: tests read the file once. The service builds one."""
    from py3langid import langid

    load = langid._load_model_file
    langid._load_model_file = functools.cache(load)
    yield
    langid._load_model_file = load


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def build(**sections: Any) -> Config:
        data: dict[str, Any] = {"brand": dict(BRAND), "storage": {"path": str(tmp_path / "watcher.db")}}
        data.update(sections)
        return parse_config(data, file=str(tmp_path / "config.toml"))

    return build


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store at the configs' storage path (tmp_path/watcher.db)."""
    db = Store(tmp_path / "watcher.db")
    yield db
    db.close()
