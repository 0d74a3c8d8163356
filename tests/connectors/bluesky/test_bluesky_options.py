"""Bluesky options `watcher check` must refuse before a poll trips on them, and an
app_password_env value that may be a pasted password is never repeated."""

from __future__ import annotations

import pytest

from connectors.bluesky import BlueskyConnector
from watcher.core.config import ConfigError, SourceConfig

PASTED = "abcdefghijklmnop"  # an app password without its dashes: letters only


@pytest.mark.parametrize("handle", ["", "lumo", "@"])
def test_a_handle_without_a_dot_is_a_config_problem(handle: str) -> None:
    cfg = SourceConfig(name="bs", kind="bluesky", options={"handle": handle})
    with pytest.raises(ConfigError) as raised:
        BlueskyConnector.from_config(cfg, {"BLUESKY_APP_PASSWORD": "x"})
    [problem] = raised.value.problems
    assert problem.key == "sources.bs.handle"


def test_a_pasted_password_is_not_the_hint_in_errors() -> None:
    cfg = SourceConfig(name="bs", kind="bluesky", options={"handle": "lumo.bsky.social", "app_password_env": PASTED})
    connector = BlueskyConnector.from_config(cfg, {PASTED: "x"})
    assert connector.client.password_hint == "the variable named by sources.bs.app_password_env"
    connector.close()
    named = SourceConfig(name="bs", kind="bluesky", options={"handle": "lumo.bsky.social", "app_password_env": "BS_PW"})
    connector = BlueskyConnector.from_config(named, {"BS_PW": "x"})
    assert connector.client.password_hint == "BS_PW"
    connector.close()
