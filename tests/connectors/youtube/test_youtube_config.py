"""The YouTube source table: the documented example builds without a request, its
quota line reaches `watcher check`, and each problem names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from connectors.base import connector_class
from connectors.youtube import YouTubeConnector
from watcher.cli.check import request_budget
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"
ENV = {"YOUTUBE_CLIENT_ID": "id", "YOUTUBE_CLIENT_SECRET": "s", "YOUTUBE_REFRESH_TOKEN": "r"}


def test_the_documented_table_builds_a_connector_and_its_quota_line_is_checked() -> None:
    config = parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), file=str(EXAMPLE))
    [source] = [s for s in config.sources if s.kind == "youtube"]
    connector = connector_class("youtube").from_config(source, ENV)
    assert isinstance(connector, YouTubeConnector) and connector.request_timeout == 20.0
    assert connector.client.count == 0
    connector.close()
    rows, problems = request_budget(config)
    assert any(
        row.text.startswith("youtube quota (YOUTUBE_CLIENT_ID): polling 288 units/day") and row.ok for row in rows
    )
    assert not [p for p in problems if "youtube" in p.reason]


def test_problems_name_their_keys() -> None:
    options = {"channel_id": "lumo", "page_size": 500, "api_key": "AIza123", "token_url": "http://x"}
    with pytest.raises(ConfigError) as raised:
        YouTubeConnector.from_config(SourceConfig(name="yt", kind="youtube", options=options), {})
    text = str(raised.value)
    for expected in ("sources.yt.channel_id: must be the channel's id", "sources.yt.page_size: must be between",
                     "sources.yt.api_key: unknown key", "sources.yt.token_url: must be an https",
                     "YOUTUBE_REFRESH_TOKEN is not set", "YOUTUBE_CLIENT_ID is not set"):  # fmt: skip
        assert expected in text
    assert "AIza123" not in text
