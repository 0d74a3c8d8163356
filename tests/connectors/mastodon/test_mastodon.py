"""The Mastodon connector against the fake instance, through the real Mastodon.py:
reading to the cursor, an instance without full-text search, rate limits, errors,
and the reply exactly once within the instance's limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.base import AuthFailed, RateLimited, ReplyOutcomeUnknown, ReplyRejected, SourceUnavailable
from connectors.mastodon import MastodonConnector
from tests.connectors.open_support import Clock, roundtrip
from tests.fakes.mastodon_api import BRAND, T0, FakeMastodon
from watcher.core.config import SourceConfig
from watcher.core.post import PostKind

ANA = ("201", "ana")
GIO = ("202", "gio")
ENV = {"MASTODON_ACCESS_TOKEN": "mastodon-token"}


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    server = FakeMastodon().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def connect(fake: FakeMastodon, clock: Clock, env: dict[str, str] | None = None, **options: Any) -> MastodonConnector:
    options = {"instance_url": fake.base_url, "hashtags": ["lumobank"], "search": ["lumo card"],
               "timeout_seconds": 5.0} | options  # fmt: skip
    cfg = SourceConfig(name="mastodon_main", kind="mastodon", options=options, backfill_hours=24)
    connector = MastodonConnector.from_config(cfg, ENV if env is None else env)
    connector.client.meter.clock = clock
    return connector


def seed(fake: FakeMastodon) -> dict[str, str]:
    own = fake.add_status("New: the Lumo app 5.0", T0 - timedelta(hours=6), by=BRAND)
    mention = fake.add_status("@lumo la carta non funziona", T0 - timedelta(hours=4), by=GIO, language="it")
    reply = fake.add_status("@lumo still broken", T0 - timedelta(hours=3), by=ANA, reply_to=own)
    tagged = fake.add_status("Loving #lumobank", T0 - timedelta(hours=2), by=ANA, tags=("lumobank",))
    hit = fake.add_status("is the lumo card ok in Spain?", T0 - timedelta(hours=1), by=GIO)
    return {"own": own, "mention": mention, "reply": reply, "tagged": tagged, "hit": hit}


def test_fetch_reads_mentions_hashtags_and_search_to_the_cursor(fake: FakeMastodon, clock: Clock) -> None:
    ids = seed(fake)
    first = connect(fake, clock).fetch(None)
    by_id = {p.native_id: p for p in first.posts}
    assert list(by_id) == [ids["mention"], ids["reply"], ids["tagged"], ids["hit"]]
    mention, reply = by_id[ids["mention"]], by_id[ids["reply"]]
    assert mention.kind == PostKind.MENTION and mention.text == "@lumo la carta non funziona" and mention.lang == "it"
    assert reply.kind == PostKind.REPLY and reply.parent_id == ids["own"]
    assert mention.author.handle == "gio@other.example"
    # the account, the instance, the search probe, then mentions, the hashtag and the search term, and
    # Mastodon.py's own read of the instance before its first hashtag timeline
    assert first.problems == () and first.requests_made == 7

    clock.advance(minutes=5)
    connector = connect(fake, clock)  # a restart: the account and limits come from the cursor
    before = fake.count()
    idle = connector.fetch(roundtrip(first.cursor))
    assert idle.posts == () and idle.requests_made == 4 == fake.count() - before  # Mastodon.py's instance read
    assert connector.max_reply_length == 500
    clock.advance(minutes=5)
    idle = connector.fetch(roundtrip(idle.cursor))
    assert idle.posts == () and idle.requests_made == 3  # one per listing

    new = fake.add_status("@lumo grazie!", T0 + timedelta(minutes=3), by=GIO)
    clock.advance(minutes=5)
    again = connector.fetch(roundtrip(idle.cursor))
    assert [p.native_id for p in again.posts] == [new]


def test_a_backlog_is_read_page_by_page(fake: FakeMastodon, clock: Clock) -> None:
    connector = connect(fake, clock, page_limit=2, hashtags=[], search=[])
    cursor = connector.fetch(None).cursor
    many = [fake.add_status(f"@lumo question {n}", T0 + timedelta(minutes=n), by=ANA) for n in range(5)]
    clock.advance(minutes=10)
    result = connector.fetch(roundtrip(cursor))
    assert [p.native_id for p in result.posts] == many and result.requests_made == 3


def test_an_instance_without_full_text_search_says_so_and_skips_the_terms(fake: FakeMastodon, clock: Clock) -> None:
    ids = seed(fake)
    fake.full_text_search = False
    result = connect(fake, clock).fetch(None)
    assert ids["hit"] not in {p.native_id for p in result.posts}
    [problem] = result.problems
    assert "does not offer full-text search" in problem and "lumo card" in problem and "hashtags" in problem
    clock.advance(minutes=5)
    before = fake.count()
    idle = connect(fake, clock).fetch(roundtrip(result.cursor))
    assert idle.problems == () and "/api/v2/search" not in [r.path for r in fake.requests[before:]]


def test_a_429_holds_every_request_until_its_reset_across_a_restart(fake: FakeMastodon, clock: Clock) -> None:
    seed(fake)
    reset = T0 + timedelta(minutes=10)
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset.isoformat()}
    fake.fail("/api/v1/accounts/verify_credentials", status=429, error="Too many requests", headers=limited)
    with pytest.raises(RateLimited) as raised:
        connect(fake, clock).fetch(None)
    assert raised.value.until == reset
    fake.fail("/api/v1/timelines/tag/lumobank", status=429, error="Too many requests", headers=limited)
    partial = connect(fake, clock).fetch(None)
    assert partial.posts and any("rate-limited" in p for p in partial.problems)
    before = fake.count()
    clock.advance(minutes=5)
    with pytest.raises(RateLimited):
        connect(fake, clock).fetch(roundtrip(partial.cursor))
    assert fake.count() == before
    clock.advance(minutes=6)
    assert connect(fake, clock).fetch(roundtrip(partial.cursor)).posts


def test_errors_and_a_malformed_status(fake: FakeMastodon, clock: Clock) -> None:
    ids = seed(fake)
    fake.fail("/api/v1/notifications", status=503, error="Service Unavailable")
    with pytest.raises(SourceUnavailable):
        connect(fake, clock).fetch(None)
    with pytest.raises(AuthFailed, match="MASTODON_ACCESS_TOKEN"):
        connect(fake, clock, env={"MASTODON_ACCESS_TOKEN": "revoked"}).fetch(None)
    original = fake._status

    def status(s: dict[str, Any]) -> dict[str, Any]:
        out = original(s)
        if s["id"] == ids["tagged"]:
            del out["content"]
        return out

    fake._status = status  # type: ignore[method-assign]
    result = connect(fake, clock, search=[]).fetch(None)
    assert ids["tagged"] not in {p.native_id for p in result.posts} and len(result.posts) == 2
    assert len(result.problems) == 1 and "content is missing" in result.problems[0]


def test_a_reply_mentions_the_author_keeps_the_visibility_and_the_instances_limit(
    fake: FakeMastodon, clock: Clock
) -> None:
    ids = seed(fake)
    fake.max_characters = 100
    private = fake.add_status("@lumo my card?", T0 - timedelta(minutes=30), by=ANA, visibility="direct")
    connector = connect(fake, clock)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    assert connector.max_reply_length == 100
    posted = connector.reply(posts[ids["mention"]], "Ciao! Ti scriviamo in privato")
    made = fake.statuses[posted.native_id]
    assert made["reply_to"] == ids["mention"] and made["text"] == "@gio@other.example Ciao! Ti scriviamo in privato"
    connector.reply(posts[private], "We sent you a DM")
    assert fake.replies_by_brand(private)[0]["visibility"] == "direct"
    before = fake.count("/api/v1/statuses")
    with pytest.raises(ReplyRejected, match="allows 100"):
        connector.reply(posts[ids["reply"]], "x" * 96)  # 101 with "@ana "
    assert fake.count("/api/v1/statuses") == before
    # a link counts 23, a remote mention only its username
    assert connector.reply_length("@ana@other.example see https://lumo.example/a/very/long/path") == 32


def test_a_reply_that_timed_out_is_found_and_the_retry_is_idempotent(fake: FakeMastodon, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock, timeout_seconds=0.3)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["mention"])
    fake.post_delay = 1.0
    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(post, "Ciao Giovanni, tutto risolto")
    found = connector.find_own_reply(post, "Ciao Giovanni, tutto risolto")
    assert found is not None and len(fake.replies_by_brand(ids["mention"])) == 1
    again = connector.reply(post, "Ciao Giovanni, tutto risolto")  # the same Idempotency-Key
    assert again.native_id == found.native_id and len(fake.replies_by_brand(ids["mention"])) == 1


def test_a_deleted_post_cannot_be_answered_and_has_no_reply(fake: FakeMastodon, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["hit"])
    fake.delete(ids["hit"])
    with pytest.raises(ReplyRejected, match="deleted"):
        connector.reply(post, "Hola!")
    assert connector.find_own_reply(post, None) is None
