"""`XConnector.from_config`: validation messages, secrets from the environment, and
the configured API base URL actually used by tweepy."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.x.connector import X_API_BASE_URL, BaseUrlSession, XConnector
from tests.connectors.x.support import BRAND_ID, ENV, Clock, make_config, running_fake
from tests.fakes.x_api import FakeX
from watcher.core.config import ConfigError, SourceConfig


def source(tmp_path: Path, **options: Any) -> SourceConfig:
    table = {"kind": "x", "backfill_hours": 6, **options}
    return make_config(tmp_path, {"x_main": table}).source("x_main")


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with running_fake(Clock()) as server:
        yield server


def test_a_configured_source_talks_to_api_base_url(tmp_path: Path, fake: FakeX) -> None:
    cfg = source(tmp_path, mode="mentions", user_id=BRAND_ID, username="@acme", api_base_url=fake.base_url)

    connector = XConnector.from_config(cfg, ENV)
    result = connector.fetch(None)

    assert result.requests_made == 1 and fake.count("users_mentions") == 1
    assert fake.requests[0].path == f"/2/users/{BRAND_ID}/mentions"
    assert connector.username == "acme" and connector.backfill == timedelta(hours=6)
    assert connector.client.wait_on_rate_limit is False


def test_defaults_point_at_the_public_x_api(tmp_path: Path) -> None:
    connector = XConnector.from_config(source(tmp_path, mode="mentions", user_id=BRAND_ID), ENV)

    session = connector.client.session
    assert isinstance(session, BaseUrlSession) and session.base_url == X_API_BASE_URL
    assert connector.max_results == 100 and connector.exclude_retweets


def test_the_session_rewrites_only_tweepys_host() -> None:
    session = BaseUrlSession("http://gateway.local/x/", timeout=1)
    prepared = []

    def capture(request: Any, **kwargs: Any) -> Any:
        prepared.append((request.url, kwargs.get("timeout")))
        raise RuntimeError("stop here")

    session.send = capture  # type: ignore[method-assign]
    for url in ("https://api.twitter.com/2/tweets?x=1", "https://elsewhere.example/2/tweets"):
        with pytest.raises(RuntimeError):
            session.get(url)
    assert prepared == [("http://gateway.local/x/2/tweets?x=1", 1), ("https://elsewhere.example/2/tweets", 1)]


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        ({"mode": "mentions"}, "user_id", "numeric X user id"),
        ({"mode": "mentions", "user_id": "acme"}, "user_id", "not a numeric"),
        ({"mode": "conversations"}, "user_id", "required for mode"),
        ({"mode": "search"}, "query", "X search query"),
        ({"mode": "search", "query": "acme"}, "user_id", "required to reply"),
        ({"mode": "timeline", "user_id": BRAND_ID}, "mode", "not one of"),
        ({"mode": "search", "query": "acme", "max_results": 500}, "max_results", "between 10 and 100"),
        ({"mode": "conversations", "user_id": BRAND_ID, "conversation_days": 9}, "conversation_days", "7 days"),
        ({"mode": "search", "query": "a", "api_base_url": "api.x.com"}, "api_base_url", "http(s) URL"),
        ({"mode": "search", "query": "a", "tier": "gold"}, "tier", "not one of"),
        ({"mode": "search", "query": "a", "rate_limits": {"search": 5}}, "rate_limits", "not one of"),
        ({"mode": "search", "query": "a", "querry": "b"}, "querry", "did you mean 'query'"),
    ],
)
def test_bad_options_name_file_key_and_fix(tmp_path: Path, options: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        XConnector.from_config(source(tmp_path, **options), ENV)

    messages = [str(p) for p in caught.value.problems if p.key == f"sources.x_main.{key}"]
    assert messages and words in messages[0], caught.value
    assert str(tmp_path / "config.toml") in messages[0]


def test_missing_bearer_names_the_variable_not_a_value(tmp_path: Path) -> None:
    cfg = source(tmp_path, mode="mentions", user_id=BRAND_ID, bearer_token_env="ACME_X_BEARER")

    with pytest.raises(ConfigError) as caught:
        XConnector.from_config(cfg, {"X_BEARER_TOKEN": "not-this-one"})

    assert "ACME_X_BEARER is not set" in str(caught.value)


def test_reply_credentials_are_optional_but_all_or_nothing(tmp_path: Path) -> None:
    read_only = {"X_BEARER_TOKEN": "b"}
    connector = XConnector.from_config(source(tmp_path, mode="mentions", user_id=BRAND_ID), read_only)
    assert connector.client.access_token is None

    partial = {**read_only, "X_ACCESS_TOKEN": "t"}
    with pytest.raises(ConfigError) as caught:
        XConnector.from_config(source(tmp_path, mode="mentions", user_id=BRAND_ID), partial)
    text = str(caught.value)
    assert "X_CONSUMER_KEY" in text and "X_ACCESS_TOKEN_SECRET" in text and "t," not in text


def test_a_secret_written_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        source(tmp_path, mode="mentions", user_id=BRAND_ID, bearer_token="AAAA")

    assert "bearer_token_env" in str(caught.value)


def documented_x_sources() -> dict[str, dict[str, Any]]:
    """The [sources.*] tables of kind x in config.example.toml, or in docs/x.config.toml
    until that section is merged into the example."""
    repo = Path(__file__).resolve().parents[3]
    for candidate in (repo / "config.example.toml", repo / "docs" / "x.config.toml"):
        if candidate.exists():
            tables = tomllib.loads(candidate.read_text(encoding="utf-8")).get("sources", {})
            found = {name: table for name, table in tables.items() if table.get("kind") == "x"}
            if found:
                return found
    return {}


def test_the_documented_example_is_valid(tmp_path: Path) -> None:
    documented = documented_x_sources()
    assert {"mentions", "search", "conversations"} == {t["mode"] for t in documented.values()}

    config = make_config(tmp_path, documented)
    for cfg in config.sources:
        connector = XConnector.from_config(cfg, ENV)
        assert connector.mode == cfg.options["mode"]


@pytest.mark.parametrize("value", [0, -1, 0.05, 301])
def test_timeout_seconds_out_of_range_is_a_config_problem(tmp_path: Path, value: float) -> None:
    cfg = source(tmp_path, mode="mentions", user_id=BRAND_ID, timeout_seconds=value)

    with pytest.raises(ConfigError) as caught:
        XConnector.from_config(cfg, ENV)

    [problem] = caught.value.problems
    assert problem.key == "sources.x_main.timeout_seconds" and "between 0.1 and 300" in str(problem)


def test_timeout_seconds_inside_the_range_reaches_the_session(tmp_path: Path) -> None:
    connector = XConnector.from_config(source(tmp_path, mode="mentions", user_id=BRAND_ID, timeout_seconds=0.5), ENV)

    session = connector.client.session
    assert isinstance(session, BaseUrlSession) and session.timeout == 0.5


def test_a_secret_pasted_into_a_reply_env_key_is_never_repeated(tmp_path: Path) -> None:
    pasted = "q8Zr2kLmN0pX7vTy"  # looks like a variable's name, but is a token
    cfg = source(tmp_path, mode="mentions", user_id=BRAND_ID, consumer_key_env=pasted)
    env = {"X_BEARER_TOKEN": "b", "X_CONSUMER_SECRET": "s", "X_ACCESS_TOKEN": "t", "X_ACCESS_TOKEN_SECRET": "ts"}

    with pytest.raises(ConfigError) as caught:
        XConnector.from_config(cfg, env)

    assert pasted not in str(caught.value)
    assert "consumer_key_env" in str(caught.value)
