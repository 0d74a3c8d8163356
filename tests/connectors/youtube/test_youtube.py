"""The YouTube connector against the fake Data API, through google-api-python-client:
reading threads and replies to the cursor, the quota, errors, and the reply exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import AuthFailed, RateLimited, ReplyOutcomeUnknown, ReplyRejected, SourceUnavailable
from connectors.youtube import YouTubeConnector
from tests.connectors.open_support import Clock, roundtrip
from tests.fakes.youtube_api import CHANNEL, T0, FakeYouTube
from watcher.core.config import SourceConfig
from watcher.core.post import PostKind

ANA = ("UCana0000000000000000000", "ana.popescu")
GIO = ("UCgio0000000000000000000", "giovanni.r")
ENV = {"YOUTUBE_CLIENT_ID": "client.apps.googleusercontent.com", "YOUTUBE_CLIENT_SECRET": "secret",
       "YOUTUBE_REFRESH_TOKEN": "1//refresh-token"}  # fmt: skip


@pytest.fixture
def fake() -> Iterator[FakeYouTube]:
    server = FakeYouTube().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def connect(fake: FakeYouTube, clock: Clock, env: dict[str, str] | None = None, **options: Any) -> YouTubeConnector:
    options = {"channel_id": CHANNEL[0], "base_url": fake.base_url, "token_url": f"{fake.base_url}/token",
               "timeout_seconds": 5.0} | options  # fmt: skip
    cfg = SourceConfig(name="youtube_main", kind="youtube", options=options, backfill_hours=24)
    connector = YouTubeConnector.from_config(cfg, ENV if env is None else env)
    connector.client.clock = clock
    return connector


def seed(fake: FakeYouTube) -> dict[str, str]:
    question = fake.add_comment("vid001", "Come attivo Apple Pay?", T0 - timedelta(hours=5), by=GIO)
    answer = fake.add_comment("vid001", "Ciao! Da app: Carte > Wallet", T0 - timedelta(hours=4), by=CHANNEL,
                              thread=question)  # fmt: skip
    again = fake.add_comment("vid001", "Non lo trovo", T0 - timedelta(hours=3), by=GIO, thread=question)
    other = fake.add_comment("vid002", "Cardul meu e blocat", T0 - timedelta(hours=2), by=ANA)
    return {"question": question, "answer": answer, "again": again, "other": other}


def test_fetch_reads_threads_and_replies_to_the_cursor_and_an_idle_poll_costs_one_unit(
    fake: FakeYouTube, clock: Clock
) -> None:
    ids = seed(fake)
    first = connect(fake, clock).fetch(None)
    by_id = {p.native_id: p for p in first.posts}
    assert list(by_id) == [ids["question"], ids["answer"], ids["again"], ids["other"]]
    question, again = by_id[ids["question"]], by_id[ids["again"]]
    assert question.kind == PostKind.COMMENT and question.parent_id == "vid001"
    assert question.url == f"https://www.youtube.com/watch?v=vid001&lc={ids['question']}"
    assert again.kind == PostKind.COMMENT and again.parent_id == ids["question"]
    assert again.parent_text == "Come attivo Apple Pay?" and by_id[ids["answer"]].is_own
    assert first.problems == () and first.requests_made == 2  # the OAuth token, one commentThreads.list

    clock.advance(minutes=5)
    connector = connect(fake, clock)  # a restart
    idle = connector.fetch(roundtrip(first.cursor))
    assert idle.posts == () and idle.requests_made == 2  # a new process fetches its access token once
    before = fake.count()
    clock.advance(minutes=5)
    idle = connector.fetch(roundtrip(idle.cursor))
    assert idle.posts == () and idle.requests_made == 1 == fake.count() - before
    assert fake.requests[-1].path == "/youtube/v3/commentThreads"

    reply = fake.add_comment("vid002", "Ma ajutati?", T0 + timedelta(minutes=8), by=ANA, thread=ids["other"])
    new = fake.add_comment("vid003", "Great video", T0 + timedelta(minutes=9), by=GIO)
    clock.advance(minutes=5)
    result = connector.fetch(roundtrip(idle.cursor))
    assert [p.native_id for p in result.posts] == [reply, new] and result.requests_made == 1


def test_replies_the_listing_left_out_are_read_with_comments_list(fake: FakeYouTube, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    cursor = connector.fetch(None).cursor
    later = [fake.add_comment("vid001", f"anyone? {n}", T0 + timedelta(minutes=n), by=ANA, thread=ids["question"])
             for n in range(1, 6)]  # fmt: skip
    clock.advance(minutes=10)
    result = connector.fetch(roundtrip(cursor))
    assert [p.native_id for p in result.posts] == later
    assert result.requests_made == 2 and fake.requests[-1].params["parentId"] == ids["question"]


def test_quota_exceeded_waits_for_midnight_pacific_across_a_restart(fake: FakeYouTube, clock: Clock) -> None:
    seed(fake)
    fake.fail("/youtube/v3/commentThreads", status=403, reason="quotaExceeded",
              message="The request cannot be completed because you have exceeded your quota.")  # fmt: skip
    with pytest.raises(RateLimited, match="daily quota") as raised:
        connect(fake, clock).fetch(None)
    midnight_pacific = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)  # PST is UTC-8 in November
    assert raised.value.until == midnight_pacific
    first = connect(fake, clock).fetch(None)
    before = fake.count()
    clock.advance(hours=1)
    connector = connect(fake, clock)
    connector.client.blocked_until = midnight_pacific  # as the poller would hold it (kept in the store)
    with pytest.raises(RateLimited):
        connector.fetch(roundtrip(first.cursor))
    assert fake.count() == before


def test_polling_stops_before_the_replies_share_of_the_quota(fake: FakeYouTube, clock: Clock) -> None:
    seed(fake)
    connector = connect(fake, clock, daily_quota=103, reply_reserve=2)  # 3 units for polling
    cursor = connector.fetch(None).cursor
    for _ in range(2):
        clock.advance(minutes=5)
        cursor = connector.fetch(roundtrip(cursor)).cursor
    before = fake.count()
    with pytest.raises(RateLimited, match="kept for replies"):
        connector.fetch(roundtrip(cursor))
    assert fake.count() == before
    clock.now = datetime(2026, 11, 21, 8, 1, tzinfo=UTC)  # a new quota day
    assert connector.fetch(roundtrip(cursor)).requests_made == 1


def test_a_server_error_is_unavailable_and_a_malformed_comment_is_a_problem_line(
    fake: FakeYouTube, clock: Clock
) -> None:
    ids = seed(fake)
    fake.fail("/youtube/v3/commentThreads", status=503, reason="backendError", message="Backend Error")
    with pytest.raises(SourceUnavailable):
        connect(fake, clock).fetch(None)
    fake.comments[ids["other"]]["at"] = "not a time"  # type: ignore[assignment]
    original = fake._comment

    def comment(c: dict[str, Any]) -> dict[str, Any]:
        out = original(c if c["id"] != ids["other"] else c | {"at": T0})
        if c["id"] == ids["other"]:
            out["snippet"]["publishedAt"] = "yesterday"
        return out

    fake._comment = comment  # type: ignore[method-assign]
    fake.comments[ids["other"]]["at"] = T0 - timedelta(hours=2)
    result = connect(fake, clock).fetch(None)
    assert ids["other"] not in {p.native_id for p in result.posts} and len(result.posts) == 3
    assert len(result.problems) == 1 and "publishedAt" in result.problems[0]


def test_a_revoked_refresh_token_says_what_to_do(fake: FakeYouTube, clock: Clock) -> None:
    with pytest.raises(AuthFailed, match="YOUTUBE_REFRESH_TOKEN"):
        connect(fake, clock, env=ENV | {"YOUTUBE_REFRESH_TOKEN": "1//revoked"}).fetch(None)


def test_a_reply_goes_under_the_thread_and_a_timeout_is_found_not_repeated(fake: FakeYouTube, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock, timeout_seconds=0.5)
    posts = {p.native_id: p for p in connector.fetch(None).posts}
    posted = connector.reply(posts[ids["again"]], "Giovanni, ti scriviamo in privato")
    assert fake.comments[posted.native_id]["thread"] == ids["question"]
    fake.insert_delay = 1.5
    with pytest.raises(ReplyOutcomeUnknown):
        connector.reply(posts[ids["other"]], "Bună Ana! Verifică acum")
    found = connector.find_own_reply(posts[ids["other"]], "Bună Ana! Verifică acum")
    assert found is not None and len(fake.replies_by_channel(ids["other"])) == 1
    assert connector.client.units >= 2 * 50  # two inserts counted at 50 units each


def test_a_deleted_comment_cannot_be_answered_and_has_no_reply(fake: FakeYouTube, clock: Clock) -> None:
    ids = seed(fake)
    connector = connect(fake, clock)
    post = next(p for p in connector.fetch(None).posts if p.native_id == ids["other"])
    fake.delete(ids["other"])
    with pytest.raises(ReplyRejected, match="deleted"):
        connector.reply(post, "Ciao!")
    assert connector.find_own_reply(post, None) is None
