"""Source tables of the Meta connectors: the documented example builds, and each
problem is named with its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from connectors.base import connector_class
from connectors.meta import FacebookConnector, InstagramConnector
from tests.connectors.meta.support import ENV
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def test_the_documented_tables_build_connectors() -> None:
    config = parse_config(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), file=str(EXAMPLE))
    built = []
    for source in config.sources:
        if source.kind in ("facebook", "instagram"):
            connector = connector_class(source.kind).from_config(source, ENV)  # no request is made
            built.append(type(connector))
            assert connector.request_timeout == 20.0
            connector.close()
    assert built == [FacebookConnector, InstagramConnector]


def test_problems_name_their_keys() -> None:
    cfg = SourceConfig(name="fb", kind="facebook",
                       options={"page_id": "lumo", "window_days": 0, "access_token": "EAAB", "graph_url": "http://x"})  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        FacebookConnector.from_config(cfg, {})
    text = str(raised.value)
    for expected in ("sources.fb.page_id: must be the Page's numeric id", "sources.fb.window_days: must be between",
                     "sources.fb.access_token: unknown key", "sources.fb.graph_url: must be an https",
                     "FACEBOOK_PAGE_TOKEN is not set"):  # fmt: skip
        assert expected in text
    assert "EAAB" not in text
    with pytest.raises(ConfigError, match="sources.ig.account_id: missing"):
        InstagramConnector.from_config(SourceConfig(name="ig", kind="instagram"), ENV)
