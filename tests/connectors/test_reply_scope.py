"""Reply scopes: which connectors read the brand's own replies from the same place,
so the native-reply check asks one of them for the posts of all."""

from __future__ import annotations

from pathlib import Path

from connectors.base import reply_scope
from connectors.replay import ReplayConnector
from connectors.x.connector import RateWindows, XConnector, build_client

BASE = "http://127.0.0.1:9"  # never contacted: a scope is worked out without a request


def x_connector(*, source: str, user_id: str = "1000", bearer: str = "app-a", base: str = BASE) -> XConnector:
    client = build_client(bearer_token=bearer, api_base_url=base)
    return XConnector(client, source=source, mode="mentions", user_id=user_id, rate_windows=RateWindows())


def test_x_sources_of_one_app_and_brand_account_share_a_scope() -> None:
    mentions = x_connector(source="mentions")
    search = x_connector(source="search")

    assert reply_scope(mentions) == reply_scope(search)
    assert hash(reply_scope(mentions)) == hash(reply_scope(search))
    assert reply_scope(x_connector(source="other", user_id="2000")) != reply_scope(mentions)  # another account
    assert reply_scope(x_connector(source="other", bearer="app-b")) != reply_scope(mentions)  # another app
    assert reply_scope(x_connector(source="other", base="http://127.0.0.1:10")) != reply_scope(mentions)


def test_the_scope_never_holds_the_token() -> None:
    assert "app-a" not in repr(reply_scope(x_connector(source="mentions")))


def test_a_connector_without_a_scope_of_its_own_is_its_own_scope(tmp_path: Path) -> None:
    one = ReplayConnector(tmp_path / "a.jsonl", source="one")
    two = ReplayConnector(tmp_path / "a.jsonl", source="two")

    assert reply_scope(one) == reply_scope(one)
    assert reply_scope(one) != reply_scope(two)  # same file, but asked post by post: nothing to share
