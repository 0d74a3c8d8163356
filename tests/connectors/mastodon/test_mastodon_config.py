"""The Mastodon source table: the documented example builds without a request; problems name their keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from connectors.base import connector_class
from connectors.mastodon import MastodonConnector
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_the_documented_table_builds_a_connector() -> None:
    config = parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), file=str(EXAMPLE))
    [source] = [s for s in config.sources if s.kind == "mastodon"]
    connector = connector_class("mastodon").from_config(source, {"MASTODON_ACCESS_TOKEN": "t"})
    assert isinstance(connector, MastodonConnector) and connector.request_timeout == 20.0
    assert connector.hashtags == ("lumobank",) and connector.client.meter.count == 0
    connector.close()


def test_problems_name_their_keys() -> None:
    options = {"instance_url": "http://mastodon.example", "page_limit": 0, "access_token": "abc123"}
    with pytest.raises(ConfigError) as raised:
        MastodonConnector.from_config(SourceConfig(name="m", kind="mastodon", options=options), {})
    text = str(raised.value)
    for expected in ("sources.m.instance_url: must be an https", "sources.m.page_limit: must be between 1 and 80",
                     "sources.m.access_token: unknown key", "MASTODON_ACCESS_TOKEN is not set"):  # fmt: skip
        assert expected in text
    assert "abc123" not in text
