"""The Bluesky connector against the fake PDS, through the real atproto SDK: reading to
the cursor, the session kept across restarts and refreshed, rate limits, errors, and
the reply exactly once with its thread references."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.base import (
    AuthFailed,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceUnavailable,
)
from connectors.bluesky import BlueskyConnector
from tests.connectors.open_support import Clock, roundtrip
from tests.fakes.bluesky_api import BRAND, T0, FakeBluesky
from watcher.core.config import SourceConfig
from watcher.core.post import PostKind

ANA = ("did:plc:ana000000000000000000000", "ana.bsky.social")
GIO = ("did:plc:gio000000000000000000000", "gio.bsky.social")
ENV = {"BLUESKY_APP_PASSWORD": "app-pass-word-1234"}


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    server = FakeBluesky().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def connect(fake: FakeBluesky, clock: Clock, env: dict[str, str] | None = None, **options: Any) -> BlueskyConnector:
    options = {"handle": BRAND[1], "base_url": fake.base_url, "search": ["lumo card"], "timeout_seconds": 5.0} | options
    cfg = SourceConfig(name="bluesky_main", kind="bluesky", options=options, backfill_hours=24)
    connector = BlueskyConnector.from_config(cfg, ENV if env is None else env)
    connector.client.meter.clock = clock
    return connector


def seed(fake: FakeBluesky) -> dict[str, str]:
    """A brand post with a reply to it, a mention, and a search hit that tags nobody."""
    own = fake.add_post("Our new card is here", T0 - timedelta(hours=5), by=BRAND)
    reply = fake.add_post("La mia carta è bloccata da ieri", T0 - timedelta(hours=3), by=GIO, reply_to=own,
                          langs=("it",))  # fmt: skip
    mention = fake.add_post(f"@{BRAND[1]} cardul meu nu merge", T0 - timedelta(hours=2), by=ANA, langs=("ro",))
    hit = fake.add_post("Is the lumo card any good abroad?", T0 - timedelta(hours=1), by=ANA)
    return {"own": own, "reply": reply, "mention": mention, "hit": hit}


def test_fetch_reads_notifications_and_searches_to_the_cursor_and_a_restart_does_not_log_in(
    fake: FakeBluesky, clock: Clock
) -> None:
    ids = seed(fake)
    first = connect(fake, clock).fetch(None)
    by_id = {p.native_id: p for p in first.posts}
    assert list(by_id) == [ids["reply"], ids["mention"], ids["hit"]]  # oldest first
    reply, mention = by_id[ids["reply"]], by_id[ids["mention"]]
    assert reply.kind == PostKind.REPLY and reply.parent_id == ids["own"] and reply.lang == "it"
    assert mention.kind == PostKind.MENTION and mention.url.startswith("https://bsky.app/profile/ana.bsky.social/post/")
    assert first.problems == () and fake.logins == 1
    assert first.requests_made == 3  # createSession, listNotifications, one search

    clock.advance(minutes=5)
    before = fake.count()
    idle = connect(fake, clock).fetch(roundtrip(first.cursor))  # a restart: the session comes from the cursor
    assert idle.posts == () and fake.logins == 1
    assert idle.requests_made == 2 == fake.count() - before  # notifications and the search term

    new = fake.add_post(f"@{BRAND[1]} grazie, risolto!", T0 + timedelta(minutes=4), by=GIO, langs=("it",))
    clock.advance(minutes=5)
    again = connect(fake, clock).fetch(roundtrip(idle.cursor))
    assert [p.native_id for p in again.posts] == [new]


def test_an_expired_session_is_refreshed_not_logged_in_again(fake: FakeBluesky, clock: Clock) -> None:
    seed(fake)
    connector = connect(fake, clock)
    cursor = connector.fetch(None).cursor
    fake.expire_tokens()  # the server ends the access token early: 400 ExpiredToken
    assert connector.fetch(cursor).problems == ()
    assert (fake.logins, fake.refreshes) == (1, 1)
    # an access token near its `exp` is refreshed by the SDK before it is used
    fake.access_ttl = 600.0  # within the SDK's 15 minutes of margin
    short = connect(fake, clock)
    short.client.login()
    fake.access_ttl = 7200.0
    short.fetch(cursor)
    assert (fake.logins, fake.refreshes) == (2, 2)


def test_a_wrong_app_password_names_the_variable(fake: FakeBluesky, clock: Clock) -> None:
    with pytest.raises(AuthFailed, match="BLUESKY_APP_PASSWORD"):
        connect(fake, clock, env={"BLUESKY_APP_PASSWORD": "wrong"}).fetch(None)


def test_a_429_stops_every_request_until_its_reset_across_a_restart(fake: FakeBluesky, clock: Clock) -> None:
    seed(fake)
    reset = T0 + timedelta(minutes=10)
    limit = {"RateLimit-Remaining": "0", "RateLimit-Reset": str(int(reset.timestamp()))}
    fake.fail("app.bsky.notification.listNotifications", status=429, error="RateLimitExceeded",
              message="Rate Limit Exceeded", headers=limit)  # fmt: skip
    with pytest.raises(RateLimited) as raised:
        connect(fake, clock).fetch(None)
    assert raised.value.until == reset
    # half way (the search is limited): what was read is kept, the reset goes into the cursor
    fake.fail("app.bsky.feed.searchPosts", status=429, error="RateLimitExceeded", message="Rate Limit Exceeded",
              headers=limit)  # fmt: skip
    partial = connect(fake, clock).fetch(None)
    assert partial.posts and any("rate-limited" in p for p in partial.problems)
    before = fake.count()
    clock.advance(minutes=5)
    with pytest.raises(RateLimited):
        connect(fake, clock).fetch(roundtrip(partial.cursor))  # a restart, still inside the window
    assert fake.count() == before
    clock.advance(minutes=6)
    assert [p.native_id for p in connect(fake, clock).fetch(roundtrip(partial.cursor)).posts] != []


def test_remaining_zero_on_a_success_holds_the_next_request(fake: FakeBluesky, clock: Clock) -> None:
    seed(fake)
    fake.remaining, fake.reset = 0, T0 + timedelta(minutes=3)
    connector = connect(fake, clock)
    with pytest.raises(RateLimited) as raised:  # the login's answer said 0 left: the reads wait for the reset
        connector.fetch(None)
    assert raised.value.until == fake.reset and fake.count() == 1
    fake.remaining = 100
    clock.advance(minutes=2)
    with pytest.raises(RateLimited):
        connector.fetch(None)
    assert fake.count() == 1
    clock.advance(minutes=2)
    assert len(connector.fetch(None).posts) == 3


def test_a_server_error_is_unavailable_and_a_malformed_item_is_a_problem_line(fake: FakeBluesky, clock: Clock) -> None:
    ids = seed(fake)
    fake.fail("app.bsky.notification.listNotifications", status=502, error="UpstreamFailure", message="Bad Gateway")
    with pytest.raises(SourceUnavailable):
        connect(fake, clock).fetch(None)
    del fake.posts[ids["mention"]]["record"]["text"]
    result = connect(fake, clock).fetch(None)
    assert ids["mention"] not in {p.native_id for p in result.posts} and len(result.posts) == 2
    assert len(result.problems) == 1 and "record.text is missing" in result.problems[0]


def test_a_reply_carries_the_threads_root_and_its_parent(fake: FakeBluesky, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    posted = connector.reply(posts[ids["reply"]], "Ciao! Ti scriviamo in privato 🙏")
    record = fake.posts[posted.native_id]["record"]
    assert record["reply"]["root"] == {"uri": ids["own"], "cid": fake.posts[ids["own"]]["cid"]}
    assert record["reply"]["parent"] == {"uri": ids["reply"], "cid": fake.posts[ids["reply"]]["cid"]}
    assert record["langs"] == ["it"]
    top = connector.reply(posts[ids["mention"]], "Bună! Scrie-ne în privat")
    assert fake.posts[top.native_id]["record"]["reply"]["root"]["uri"] == ids["mention"]


def test_the_limit_is_300_graphemes(fake: FakeBluesky, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["mention"])
    family = "👨‍👩‍👧"  # five code points, one grapheme
    assert connector.reply_length(family * 300) == 300
    connector.reply(post, family * 300)
    before = fake.count()
    with pytest.raises(ReplyRejected, match="Bluesky allows 300"):
        connector.reply(post, family * 301)
    assert fake.count() == before


def test_a_reply_that_timed_out_is_found_not_posted_again(fake: FakeBluesky, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock, timeout_seconds=0.3)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["mention"])
    fake.write_delay = 1.0
    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(post, "Bună Ana! Verifică acum")
    found = connector.find_own_reply(post, "Bună Ana! Verifică acum")
    assert found is not None and len(fake.replies_by_brand(ids["mention"])) == 1
    assert connector.find_own_replies([post]) == {post.key: found}


def test_a_deleted_post_cannot_be_answered_and_has_no_reply(fake: FakeBluesky, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["hit"])
    fake.delete(ids["hit"])
    with pytest.raises(ReplyRejected, match="deleted"):
        connector.reply(post, "Hi!")
    assert connector.find_own_reply(post, None) is None
