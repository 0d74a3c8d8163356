"""The Bluesky source table: the documented example builds without a request, and each
problem names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from connectors.base import connector_class
from connectors.bluesky import BlueskyConnector
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_the_documented_table_builds_a_connector() -> None:
    config = parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), file=str(EXAMPLE))
    [source] = [s for s in config.sources if s.kind == "bluesky"]
    connector = connector_class("bluesky").from_config(source, {"BLUESKY_APP_PASSWORD": "x"})
    assert isinstance(connector, BlueskyConnector) and connector.request_timeout == 20.0
    assert connector.searches == ("lumo card", "lumobank") and connector.client.meter.count == 0
    connector.close()


def test_problems_name_their_keys() -> None:
    options = {"page_limit": 500, "app_password": "abcd-efgh", "base_url": "http://bsky.example", "search": 3}
    with pytest.raises(ConfigError) as raised:
        BlueskyConnector.from_config(SourceConfig(name="bs", kind="bluesky", options=options), {})
    text = str(raised.value)
    for expected in ("sources.bs.handle: missing", "sources.bs.page_limit: must be between 1 and 100",
                     "sources.bs.app_password: unknown key", "sources.bs.base_url: must be an https",
                     "sources.bs.search: expected a list", "BLUESKY_APP_PASSWORD is not set"):  # fmt: skip
        assert expected in text
    assert "abcd-efgh" not in text
