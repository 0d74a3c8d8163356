"""Shared fixtures: configs, posts and stores built in a temporary folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import BRAND
from watcher.config import Config, parse_config
from watcher.store import Store


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
    db = Store(tmp_path / "watcher.db")
    yield db
    db.close()
