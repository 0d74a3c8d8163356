"""The native-reply check reads each brand timeline once: X sources of one app and
one brand account share a reply scope. The real connectors (built from config, as
`watcher slack serve` and `watcher run` build them) talk tweepy to a fake X, the
Slack tick talks slack-sdk to a fake Slack, and `plan_budget` plans what the check
really reads, disabled sources included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from connectors.base import reply_scope
from connectors.x.budget import plan_budget
from tests.connectors.x.support import BRAND_ID, ENV, make_connector
from tests.fakes.slack_api import FakeSlack
from tests.fakes.x_api import FakeX
from watcher.cli.slack import connector_for_config
from watcher.config import Config
from watcher.ingest.pipeline import Pipeline
from watcher.slack.jobs import run_slack_jobs
from watcher.slack.runtime import SlackRuntime
from watcher.store import Store

from .conftest import Clock, fixed_triage, make_config

OTHER_APP = "other-app-bearer"
X_ENV = {**ENV, "X_OTHER_BEARER": OTHER_APP}


@pytest.fixture
def x_fake(clock: Clock) -> Iterator[FakeX]:
    server = FakeX(brand_id=BRAND_ID, clock=clock, other_bearer_tokens=(OTHER_APP,)).start()
    server.add_user("2001", "alice", "Alice A")
    try:
        yield server
    finally:
        server.stop()


def x_sources(x_fake: FakeX, **tables: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"kind": "x", "user_id": BRAND_ID, "api_base_url": x_fake.base_url, **table}
        for name, table in tables.items()
    }


def open_items(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, sources: dict[str, Any]
) -> tuple[Config, Store, dict[str, str]]:
    """Each source fetches its own customer post from the fake X (through a connector on
    the test clock), the pipeline queues it, and its card is posted. Returns the config,
    the store and source name -> the post's tweet id."""
    config = make_config(tmp_path, fake.base_url, sources=sources)
    store = Store(config.storage.path)
    pipeline = Pipeline(store, config, triage_fn=fixed_triage, clock=clock)
    tweets = {}
    for name, table in sources.items():
        text = f"@acme {name} broke" if table.get("mode") == "mentions" else f"the {table['query']} app broke"
        tweets[name] = x_fake.add_tweet("2001", text, at=clock.now - timedelta(minutes=20))
        bearer = X_ENV[table.get("bearer_token_env", "X_BEARER_TOKEN")]
        options = {k: v for k, v in table.items() if k in ("mode", "query")}
        connector = make_connector(x_fake, clock, source=name, bearer=bearer, **options)
        result = connector.fetch(None)
        assert [p.native_id for p in result.posts] == [tweets[name]]
        pipeline.ingest(name, result)
    assert store.items.count_items() == len(sources)
    return config, store, tweets


def runtime_for(config: Config, store: Store, client: WebClient, clock: Clock) -> SlackRuntime:
    """The Slack runtime with the connectors `watcher slack serve` builds from config
    (a disabled source's too: its open items can still be answered and checked)."""
    return SlackRuntime(
        config=config,
        store=store,
        client=client,
        connector_for=connector_for_config(config, X_ENV),
        clock=clock,
        sleep=lambda seconds: None,
    )


def answer_all_natively(x_fake: FakeX, clock: Clock, tweets: dict[str, str]) -> None:
    for name, tweet_id in tweets.items():
        x_fake.add_tweet(BRAND_ID, f"@alice sorted for {name}", at=clock.now, reply_to=tweet_id)


def states(store: Store, tweets: dict[str, str]) -> dict[str, str]:
    """Source name -> the state of its item."""
    items = {name: store.items.item_for_post(f"x:{tweet_id}") for name, tweet_id in tweets.items()}
    return {name: item.state for name, item in items.items() if item is not None}


def test_two_sources_of_one_brand_account_cost_one_timeline_read_a_check(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> None:
    sources = x_sources(x_fake, mentions={"mode": "mentions"}, search={"mode": "search", "query": "lumo"})
    config, store, tweets = open_items(tmp_path, fake, x_fake, clock, sources)
    runtime = runtime_for(config, store, client, clock)
    with store:
        run_slack_jobs(runtime)  # posts the cards: no item had one to check before
        assert x_fake.count("users_tweets") == 0
        answer_all_natively(x_fake, clock, tweets)
        x_fake.requests.clear()
        clock.advance(minutes=10)

        assert run_slack_jobs(runtime).answered_elsewhere == 2

        assert [r.endpoint for r in x_fake.requests] == ["users_tweets"]  # one read for both sources
        assert x_fake.requests[0].params["since_id"] == min(tweets.values(), key=int)
        assert set(states(store, tweets).values()) == {"answered_elsewhere"}
        # two connectors, one scope
        built = [runtime.connector_for(p) for p in map(store.posts.get_post, [f"x:{t}" for t in tweets.values()])]
        assert built[0] is not built[1] and reply_scope(built[0]) == reply_scope(built[1])

    # the budget plans what the check reads: one timeline, up to 2 pages, 2 checks in 15 min
    [line] = [line for line in plan_budget(config.sources, native_check_minutes=10) if line.endpoint == "users_tweets"]
    assert (line.sources, line.shared, line.planned_per_window) == (
        ("mentions", "search"),
        (("mentions", "search"),),
        4,
    )
    assert "mentions and search share one read (same app and user_id)" in line.describe()


def test_disabled_sources_are_checked_and_planned_once_per_app_and_account(
    tmp_path: Path, fake: FakeSlack, x_fake: FakeX, clock: Clock, client: WebClient
) -> None:
    sources = x_sources(
        x_fake,
        mentions={"mode": "mentions"},
        archive={"mode": "search", "query": "lumo", "enabled": False},  # same app and account as mentions
        other={"mode": "search", "query": "zeta", "enabled": False, "bearer_token_env": "X_OTHER_BEARER"},
    )
    config, store, tweets = open_items(tmp_path, fake, x_fake, clock, sources)
    runtime = runtime_for(config, store, client, clock)
    with store:
        run_slack_jobs(runtime)  # the cards
        answer_all_natively(x_fake, clock, tweets)
        x_fake.requests.clear()
        x_fake.fail("users_tweets", 503)  # the first scope asked fails: logged, the other still answers
        clock.advance(minutes=10)

        first = run_slack_jobs(runtime).answered_elsewhere

        failed_app = x_fake.requests[0].bearer
        assert [(r.endpoint, r.bearer) for r in x_fake.requests] == [
            ("users_tweets", failed_app),
            ("users_tweets", OTHER_APP if failed_app == ENV["X_BEARER_TOKEN"] else ENV["X_BEARER_TOKEN"]),
        ]
        still_open = {"other"} if failed_app == OTHER_APP else {"mentions", "archive"}
        assert first == 3 - len(still_open)
        assert {name for name, state in states(store, tweets).items() if state != "answered_elsewhere"} == still_open

        x_fake.requests.clear()
        clock.advance(minutes=10)
        assert run_slack_jobs(runtime).answered_elsewhere == len(still_open)  # checked again, now answered
        assert [r.bearer for r in x_fake.requests] == [failed_app]  # only the scope that still had open items
        assert set(states(store, tweets).values()) == {"answered_elsewhere"}

    lines = [line for line in plan_budget(config.sources, native_check_minutes=10) if line.endpoint == "users_tweets"]
    assert [(line.sources, line.disabled, line.planned_per_window) for line in lines] == [
        (("mentions", "archive"), ("archive",), 4),
        (("other",), ("other",), 4),
    ]
    assert "archive disabled but still checked for open items" in lines[0].describe()
    polled = {name for line in plan_budget(config.sources) for name in line.sources}
    assert polled == {"mentions"}  # disabled sources are never polled
