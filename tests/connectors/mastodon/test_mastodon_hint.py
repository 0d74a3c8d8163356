"""An access_token_env value that may be a pasted token is never repeated in errors."""

from __future__ import annotations

from connectors.mastodon import MastodonConnector
from watcher.core.config import SourceConfig

PASTED = "Zx9TokenPastedHere42"  # a token pasted into access_token_env: letters and digits


def test_a_pasted_token_is_not_the_hint_in_errors() -> None:
    options = {"instance_url": "https://mastodon.example", "access_token_env": PASTED}
    connector = MastodonConnector.from_config(SourceConfig(name="m", kind="mastodon", options=options), {PASTED: "t"})
    assert connector.client.token_hint == "the variable named by sources.m.access_token_env"
    connector.close()
