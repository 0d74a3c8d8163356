"""Fetching through the real tweepy Client against the fake X API: pagination to the
cursor, backfill, gaps, restarts, rate limits, auth failures and back-off."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import AuthFailed, RateLimited, SourceMisconfigured, SourceUnavailable
from connectors.x.client import RateWindows
from connectors.x.mapping import snowflake_at, snowflake_time
from tests.connectors.x.support import BRAND_ID, Clock, make_connector, make_rig, reopen, running_fake
from tests.fakes.x_api import FakeX
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind

ORDERS = itertools.count(1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeX]:
    with running_fake(clock) as server:
        server.add_user("2001", "alice", "Alice A", followers=120)
        server.add_user("2002", "bob")
        yield server


def mentions(fake: FakeX, clock: Clock, count: int, *, start: timedelta, author: str = "2001") -> list[str]:
    """`count` mentions one minute apart, the first at now - start."""
    return [
        fake.add_tweet(author, f"@acme my order {next(ORDERS)} is late?", at=clock.now - start + timedelta(minutes=n))
        for n in range(count)
    ]


def test_first_fetch_backfills_the_window_and_pages_to_the_end(fake: FakeX, clock: Clock) -> None:
    old = mentions(fake, clock, 3, start=timedelta(hours=30))
    recent = mentions(fake, clock, 25, start=timedelta(hours=3))
    connector = make_connector(fake, clock, mode="mentions", max_results=10, backfill_hours=24)

    result = connector.fetch(None)

    assert [p.native_id for p in result.posts] == recent  # oldest -> newest, nothing older than backfill
    assert not set(old) & {p.native_id for p in result.posts}
    assert result.requests_made == 3 and not result.has_more
    assert result.cursor == Cursor({"since_id": recent[-1]})
    first = fake.requests[0].params
    assert first["start_time"] == "2026-11-21T12:00:00Z" and "since_id" not in first
    assert [r.params.get("pagination_token") for r in fake.requests[1:]] == [
        f"page-{recent[15]}",
        f"page-{recent[5]}",
    ]
    assert set(first["tweet.fields"].split(",")) >= {"created_at", "lang", "public_metrics", "referenced_tweets"}
    assert set(first["expansions"].split(",")) >= {"author_id", "referenced_tweets.id"}
    assert all(r.auth == "bearer" for r in fake.requests)


def test_next_fetch_pages_only_back_to_the_cursor(fake: FakeX, clock: Clock) -> None:
    mentions(fake, clock, 5, start=timedelta(hours=2))
    connector = make_connector(fake, clock, mode="mentions", max_results=10)
    cursor = connector.fetch(None).cursor
    clock.advance(minutes=30)
    new = mentions(fake, clock, 12, start=timedelta(minutes=20))
    before = fake.count()

    result = connector.fetch(cursor)

    assert [p.native_id for p in result.posts] == new
    assert fake.count() - before == result.requests_made == 2
    assert fake.requests[-2].params["since_id"] == cursor.state["since_id"]  # type: ignore[union-attr]
    assert "start_time" not in fake.requests[-2].params
    assert result.cursor == Cursor({"since_id": new[-1]})


def test_page_limit_keeps_the_rest_as_a_gap_and_the_poller_fills_it(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    ids = mentions(fake, clock, 45, start=timedelta(hours=5))
    connector = make_connector(fake, clock, mode="mentions", max_results=10, max_pages=2)

    first = connector.fetch(None)
    assert [p.native_id for p in first.posts] == ids[-20:]
    assert first.has_more
    assert first.cursor is not None and first.cursor.state["gaps"] == [
        {"start_time": "2026-11-21T12:00:00+00:00", "until_id": ids[-20]}
    ]

    rig = make_rig(tmp_path, clock, {"mentions": connector})
    rig.store.sources.set_cursor("mentions", first.cursor, now=clock.now)
    outcome = rig.poll("mentions")

    assert outcome.status == "ok"
    keys = [p.native_id for p in rig.store.posts.iter_posts()]
    assert sorted(keys, key=int) == ids[:25]  # exactly the 25 the first fetch had left
    assert rig.store.sources.get_cursor("mentions") == Cursor({"since_id": ids[-1]})


def test_restart_resumes_from_the_stored_cursor(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    first = mentions(fake, clock, 4, start=timedelta(hours=1))
    connector = make_connector(fake, clock, mode="mentions")
    rig = make_rig(tmp_path, clock, {"mentions": connector})
    assert rig.poll("mentions").report.stored == 4

    clock.advance(minutes=10)
    later = mentions(fake, clock, 3, start=timedelta(minutes=5))
    fresh = make_connector(fake, clock, mode="mentions")  # a new process: new client, new windows
    rig = reopen(rig, clock, {"mentions": fresh}, tmp_path)
    outcome = rig.poll("mentions")

    assert outcome.report.stored == 3 and outcome.report.already_known == 0
    assert fake.requests[-1].params["since_id"] == first[-1]
    assert sorted((p.native_id for p in rig.store.posts.iter_posts()), key=int) == first + later


def test_idle_poll_makes_exactly_one_request(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    mentions(fake, clock, 3, start=timedelta(hours=1))
    rig = make_rig(tmp_path, clock, {"mentions": make_connector(fake, clock, mode="mentions")})
    rig.poll("mentions")
    before = fake.count()

    outcome = rig.poll("mentions")

    assert outcome.status == "ok" and outcome.requests == 1
    assert fake.count() - before == 1


def test_429_blocks_the_endpoint_until_reset_across_restarts_while_others_run(
    fake: FakeX, clock: Clock, tmp_path: Path
) -> None:
    mentions(fake, clock, 2, start=timedelta(hours=1))
    fake.add_tweet("2002", "acme support is great", at=clock.now - timedelta(minutes=30))
    reset = clock.now + timedelta(minutes=12)
    fake.fail("users_mentions", 429, reset=int(reset.timestamp()))
    connectors = {
        "mentions": make_connector(fake, clock, mode="mentions"),
        "search": make_connector(fake, clock, mode="search", query="support"),
    }
    rig = make_rig(tmp_path, clock, connectors)

    limited = rig.poll("mentions")
    other = rig.poll("search")

    assert limited.status == "rate_limited" and limited.next_attempt_at == reset
    assert other.status == "ok" and other.report.stored == 1
    assert rig.store.sources.source_state("mentions").rate_limits == {"users_mentions": reset}

    during = fake.count("users_mentions")
    clock.advance(minutes=5)
    assert rig.poll("mentions").status == "skipped"
    restarted = {k: make_connector(fake, clock, mode=c.mode, query=c.query) for k, c in connectors.items()}
    rig = reopen(rig, clock, restarted, tmp_path)
    assert rig.poll("mentions").status == "skipped"
    assert rig.poll("search").status == "ok"
    assert fake.count("users_mentions") == during  # not one request inside the window

    clock.advance(minutes=8)
    after = rig.poll("mentions")
    assert after.status == "ok" and after.report.stored == 2
    assert fake.count("users_mentions") == during + 1


def test_remaining_zero_stops_paging_without_a_wasted_request(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    ids = mentions(fake, clock, 45, start=timedelta(hours=5))
    reset = clock.now + timedelta(minutes=9)
    fake.set_limit("users_mentions", limit=450, remaining=2, reset=reset)
    rig = make_rig(tmp_path, clock, {"mentions": make_connector(fake, clock, mode="mentions", max_results=10)})

    outcome = rig.poll("mentions")

    assert outcome.status == "rate_limited" and outcome.next_attempt_at == reset
    assert fake.count("users_mentions") == 2  # the third page was never asked for
    assert outcome.report.stored == 20
    assert rig.poll("mentions").status == "skipped"

    clock.advance(minutes=10)
    assert rig.poll("mentions").status == "ok"
    assert sorted((p.native_id for p in rig.store.posts.iter_posts()), key=int) == ids


def test_a_429_on_one_source_stops_other_sources_on_the_same_endpoint(fake: FakeX, clock: Clock) -> None:
    windows = RateWindows()
    first = make_connector(fake, clock, mode="search", query="acme", windows=windows)
    second = make_connector(fake, clock, mode="search", query="refund", windows=windows)
    fake.fail("search_recent", 429, reset=int((clock.now + timedelta(minutes=3)).timestamp()))

    with pytest.raises(RateLimited):
        first.fetch(None)
    before = fake.count()
    with pytest.raises(RateLimited) as caught:
        second.fetch(None)

    assert fake.count() == before
    assert caught.value.endpoint == "search_recent"


def test_401_marks_the_source_unhealthy_naming_the_variable(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    connector = make_connector(fake, clock, mode="mentions", bearer="expired-token")
    connector.credentials_hint = "environment variable ACME_X_BEARER (bearer_token_env)"
    rig = make_rig(tmp_path, clock, {"mentions": connector})

    outcome = rig.poll("mentions")

    assert outcome.status == "unhealthy"
    state = rig.store.sources.source_state("mentions")
    assert not state.healthy
    assert "401" in state.message and "ACME_X_BEARER" in state.message
    assert "expired-token" not in state.message


def test_403_on_fetch_is_an_auth_failure(fake: FakeX, clock: Clock) -> None:
    fake.fail("search_recent", 403, detail="When authenticating requests you must use keys from an App in a Project")
    connector = make_connector(fake, clock, mode="search", query="acme")

    with pytest.raises(AuthFailed) as caught:
        connector.fetch(None)

    assert "access level" in caught.value.message and "Project" in caught.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_back_off_then_recover(fake: FakeX, clock: Clock, tmp_path: Path, status: int) -> None:
    mentions(fake, clock, 2, start=timedelta(hours=1))
    fake.fail("users_mentions", status)
    rig = make_rig(tmp_path, clock, {"mentions": make_connector(fake, clock, mode="mentions")})

    failed = rig.poll("mentions")

    assert failed.status == "failed" and failed.next_attempt_at is not None
    assert failed.next_attempt_at > clock.now
    state = rig.store.sources.source_state("mentions")
    assert state.healthy and state.failures == 1
    before = fake.count()
    assert rig.poll("mentions").status == "skipped"
    assert fake.count() == before

    clock.now = failed.next_attempt_at + timedelta(seconds=1)
    recovered = rig.poll("mentions")
    assert recovered.status == "ok" and recovered.report.stored == 2
    assert rig.store.sources.source_state("mentions").failures == 0


def test_a_timeout_is_source_unavailable(fake: FakeX, clock: Clock) -> None:
    connector = make_connector(fake, clock, mode="mentions")
    connector.client.session.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port

    with pytest.raises(SourceUnavailable) as caught:
        connector.fetch(None)

    assert "api_base_url" in caught.value.message


def test_unknown_user_id_is_a_configuration_problem(fake: FakeX, clock: Clock) -> None:
    connector = make_connector(fake, clock, mode="mentions", user_id="424242")

    with pytest.raises(SourceMisconfigured) as caught:
        connector.fetch(None)

    assert "424242" in caught.value.message and "user_id" in caught.value.message


def test_search_excludes_retweets_and_the_brands_own_posts(fake: FakeX, clock: Clock) -> None:
    original = fake.add_tweet("2001", "acme lost my parcel", at=clock.now - timedelta(hours=1))
    fake.add_tweet("2002", "RT @alice: acme lost my parcel", at=clock.now - timedelta(minutes=50), retweet_of=original)
    fake.add_tweet(BRAND_ID, "acme news: new app", at=clock.now - timedelta(minutes=40))
    other = fake.add_tweet("2002", "is ACME down?", at=clock.now - timedelta(minutes=30))
    connector = make_connector(fake, clock, mode="search", query="acme OR @acme")

    result = connector.fetch(None)

    assert fake.requests[-1].params["query"] == f"(acme OR @acme) -is:retweet -from:{BRAND_ID}"
    assert [p.native_id for p in result.posts] == [original, other]


def test_conversations_mode_watches_replies_under_the_brands_posts(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    brand_post = fake.add_tweet(BRAND_ID, "Our new card is here!", at=clock.now - timedelta(hours=2))
    reply = fake.add_tweet(
        "2001", "the app crashes when I add it", at=clock.now - timedelta(hours=1), reply_to=brand_post
    )
    fake.add_tweet("2002", "unrelated chatter", at=clock.now - timedelta(minutes=30))
    connector = make_connector(fake, clock, mode="conversations")
    rig = make_rig(tmp_path, clock, {"conversations": connector})

    rig.poll("conversations")  # finds the brand's post, starts watching its conversation
    clock.advance(minutes=5)
    later = fake.add_tweet("2002", "same here", at=clock.now - timedelta(minutes=1), reply_to=brand_post)
    rig.poll("conversations")

    stored = {p.native_id: p for p in rig.store.posts.iter_posts()}
    assert set(stored) == {reply, later}  # the brand's own post is dropped by the pipeline
    assert stored[reply].kind == PostKind.REPLY
    assert stored[reply].parent_text == "Our new card is here!"
    assert stored[reply].conversation_id == brand_post
    queries = [r.params["query"] for r in fake.requests]
    assert queries[0] == f"(from:{BRAND_ID}) -is:retweet"
    assert queries[-1] == f"(from:{BRAND_ID} OR conversation_id:{brand_post}) -is:retweet"
    assert rig.store.sources.get_cursor("conversations").state["conversations"] == [brand_post]  # type: ignore[union-attr]


def test_conversations_older_than_the_window_are_no_longer_watched(fake: FakeX, clock: Clock) -> None:
    old = snowflake_at(clock.now - timedelta(days=4))
    recent = snowflake_at(clock.now - timedelta(days=1))
    connector = make_connector(fake, clock, mode="conversations", conversation_days=3)

    result = connector.fetch(Cursor({"since_id": recent, "conversations": [old, recent]}))

    assert result.cursor is not None and result.cursor.state["conversations"] == [recent]
    assert old not in fake.requests[-1].params["query"]


def test_search_cursor_older_than_seven_days_restarts_at_the_window_edge(fake: FakeX, clock: Clock) -> None:
    stale = snowflake_at(clock.now - timedelta(days=9))
    lost_gap = {"since_id": snowflake_at(clock.now - timedelta(days=12)), "until_id": stale}
    connector = make_connector(fake, clock, mode="search", query="acme")

    result = connector.fetch(Cursor({"since_id": stale, "gaps": [lost_gap]}))

    params = fake.requests[-1].params
    assert "since_id" not in params
    edge = datetime.fromisoformat(params["start_time"].replace("Z", "+00:00"))
    assert clock.now - timedelta(days=7) < edge < clock.now - timedelta(days=6, hours=23)
    assert len(result.problems) == 1 and "7-day search window" in result.problems[0]
    assert not result.has_more


def test_deleted_and_protected_authors_and_parents_do_not_break_a_fetch(fake: FakeX, clock: Clock) -> None:
    fake.add_user("3003", "hidden", hidden=True)
    parent = fake.add_tweet(BRAND_ID, "@alice we are on it", at=clock.now - timedelta(hours=3))
    orphan = fake.add_tweet("2001", "@acme still waiting", at=clock.now - timedelta(hours=2), reply_to=parent)
    fake.delete_tweet(parent)
    protected = fake.add_tweet("3003", "@acme where is my refund", at=clock.now - timedelta(hours=1))
    bare = fake.add_tweet(
        "2002", "@acme hello", at=clock.now - timedelta(minutes=30), lang=None, fields={"public_metrics": None}
    )
    connector = make_connector(fake, clock, mode="mentions")

    result = connector.fetch(None)

    posts = {p.native_id: p for p in result.posts}
    assert set(posts) == {orphan, protected, bare}
    assert posts[orphan].parent_id == parent and posts[orphan].parent_text is None
    assert posts[protected].author.handle == "unavailable" and posts[protected].author.id == "3003"
    assert posts[protected].url.endswith(f"/i/web/status/{protected}")
    assert posts[bare].lang is None and posts[bare].metrics.engagement == 0
    assert posts[bare].created_at == datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
    assert result.problems == ()


def test_conversations_that_do_not_fit_the_query_limit_are_logged_newest_kept(
    fake: FakeX, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    conversations = [snowflake_at(clock.now - timedelta(hours=n + 1)) for n in range(12)]
    connector = make_connector(fake, clock, mode="conversations", max_query_length=256)

    connector.fetch(Cursor({"since_id": conversations[0], "conversations": conversations}))

    query = fake.requests[-1].params["query"]
    assert len(query) <= 256
    kept = [c for c in conversations if c in query]
    assert kept == conversations[: len(kept)] and 0 < len(kept) < len(conversations)
    assert "do not fit in max_query_length=256" in caplog.text


def test_max_pages_one_reads_every_gap_and_stops_when_caught_up(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    ids = mentions(fake, clock, 35, start=timedelta(hours=3))
    connector = make_connector(fake, clock, source="m", mode="mentions", max_results=10, max_pages=1)
    rig = make_rig(tmp_path, clock, {"m": connector})

    first = rig.poll("m")

    # newest 10, then the gap in three requests, then the top once more: nothing new
    assert first.status == "ok" and first.report.stored == 35 and first.requests == 5
    assert sorted((p.native_id for p in rig.store.posts.iter_posts()), key=int) == ids
    assert rig.store.sources.get_cursor("m") == Cursor({"since_id": ids[-1]})
    clock.advance(minutes=1)
    assert rig.poll("m").requests == 1  # caught up: one request, not one per fetch the poller allows


def test_max_pages_one_keeps_up_with_new_posts_while_a_gap_is_read(fake: FakeX, clock: Clock) -> None:
    ids = mentions(fake, clock, 25, start=timedelta(hours=3))
    connector = make_connector(fake, clock, mode="mentions", max_results=10, max_pages=1)
    seen: list[str] = []
    cursor = None
    for _ in range(6):
        result = connector.fetch(cursor)
        assert result.requests_made == 1
        seen += [p.native_id for p in result.posts]
        cursor = result.cursor
        clock.advance(minutes=1)
        ids += mentions(fake, clock, 2, start=timedelta(seconds=30))

    assert not result.has_more
    assert sorted(seen, key=int) == ids[:-2]  # all but the two added after the last fetch, once each


def test_a_gap_that_keeps_failing_is_not_asked_again_within_the_poll(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    ids = mentions(fake, clock, 15, start=timedelta(hours=3))
    fake.fail("users_mentions", 503, times=100, when=lambda params: "until_id" in params)
    gap = {"start_time": (clock.now - timedelta(hours=4)).isoformat(), "until_id": ids[5]}
    connector = make_connector(fake, clock, source="m", mode="mentions", max_results=10, max_pages=2)
    rig = make_rig(tmp_path, clock, {"m": connector})
    rig.store.sources.set_cursor("m", Cursor({"since_id": ids[-1], "gaps": [gap]}), now=clock.now)

    outcome = rig.poll("m")

    assert outcome.status == "ok"
    assert fake.count("users_mentions") == 2  # the top once, the gap once: no repeats within the poll
    assert len(outcome.report.problems) == 1 and "503" in outcome.report.problems[0]
    assert outcome.report.problems[0].startswith("m: stopped after 1 requests")
    assert rig.store.sources.get_cursor("m") == Cursor({"since_id": ids[-1], "gaps": [gap]})  # kept for the next poll


def test_search_since_id_older_than_the_window_reports_the_range_cut_off_once(fake: FakeX, clock: Clock) -> None:
    stale = snowflake_at(clock.now - timedelta(days=9))
    recent = [fake.add_tweet("2001", f"acme order {n} late", at=clock.now - timedelta(hours=30 - n)) for n in range(25)]
    connector = make_connector(fake, clock, mode="search", query="acme", max_results=10)

    # last read when the stale post was new (a cursor without checked_at names no range: see below)
    result = connector.fetch(Cursor({"since_id": stale, "checked_at": snowflake_time(stale).isoformat()}))

    assert [p.native_id for p in result.posts] == recent and result.requests_made == 3
    [problem] = result.problems  # one line for the fetch, not one per page
    assert problem.startswith(f"{connector.source}: posts from 2026-11-13 12:00 to 2026-11-15 12:05 UTC")
    assert "fell out of X's 7-day search window" in problem
    assert connector.fetch(result.cursor).problems == ()  # reported once: the cursor has moved on


def test_search_gap_starting_before_the_window_reports_the_part_cut_off(fake: FakeX, clock: Clock) -> None:
    inside = fake.add_tweet("2001", "acme where is my parcel", at=clock.now - timedelta(days=5))
    top = fake.add_tweet("2001", "acme thanks", at=clock.now - timedelta(hours=1))
    gap = {
        "start_time": (clock.now - timedelta(days=8)).isoformat(),
        "until_id": snowflake_at(clock.now - timedelta(days=2)),
    }
    connector = make_connector(fake, clock, mode="search", query="acme")

    result = connector.fetch(Cursor({"since_id": top, "gaps": [gap]}))

    assert [p.native_id for p in result.posts] == [inside]
    [problem] = result.problems
    assert "posts from 2026-11-14 12:00 to 2026-11-15 12:05 UTC fell out of X's 7-day search window" in problem
    assert result.cursor == Cursor({"since_id": top, "checked_at": clock.now.isoformat()}) and not result.has_more


def test_a_tweet_without_a_valid_id_is_a_problem_line_and_the_page_is_kept(
    fake: FakeX, clock: Clock, tmp_path: Path
) -> None:
    ids = mentions(fake, clock, 4, start=timedelta(hours=1))
    fake.malform(ids[1], id=None)
    fake.malform(ids[2], id="not-a-number")
    rig = make_rig(tmp_path, clock, {"m": make_connector(fake, clock, source="m", mode="mentions")})

    outcome = rig.poll("m")

    assert outcome.status == "ok" and outcome.report.stored == 2
    assert sorted((p.native_id for p in rig.store.posts.iter_posts()), key=int) == [ids[0], ids[3]]
    assert outcome.report.problems == [  # in X's order, newest first
        "m: X sent a tweet with an invalid id ('not-a-number', author_id='2001', "
        "created_at='2026-11-22T11:02:00.000Z'); skipped",
        "m: X sent a tweet with an invalid id (None, author_id='2001', created_at='2026-11-22T11:01:00.000Z'); skipped",
    ]
    assert rig.store.sources.get_cursor("m") == Cursor({"since_id": ids[3]})


def test_max_pages_one_drops_a_gap_out_of_the_search_window_then_reads_the_top(fake: FakeX, clock: Clock) -> None:
    top = fake.add_tweet("2001", "acme thanks", at=clock.now - timedelta(hours=2))
    newer = fake.add_tweet("2001", "acme one more thing", at=clock.now - timedelta(hours=1))
    lost = {
        "since_id": snowflake_at(clock.now - timedelta(days=10)),
        "until_id": snowflake_at(clock.now - timedelta(days=8)),
    }
    connector = make_connector(fake, clock, mode="search", query="acme", max_pages=1)

    dropped = connector.fetch(Cursor({"since_id": top, "gaps": [lost]}))

    assert dropped.requests_made == 0 and fake.count() == 0 and dropped.posts == ()
    assert len(dropped.problems) == 1 and "2026-11-12 12:00 to 2026-11-14 12:00 UTC" in dropped.problems[0]
    assert dropped.has_more and dropped.cursor == Cursor({"since_id": top})  # the top was not read yet
    caught_up = connector.fetch(dropped.cursor)
    assert [p.native_id for p in caught_up.posts] == [newer] and not caught_up.has_more


def test_a_quiet_search_polled_every_hour_reports_no_loss(fake: FakeX, clock: Clock) -> None:
    only = fake.add_tweet("2001", "acme thanks", at=clock.now - timedelta(days=6, hours=22))
    connector = make_connector(fake, clock, mode="search", query="acme")
    cursor: Cursor | None = Cursor({"since_id": only})
    problems: list[str] = []
    for _ in range(6):  # the newest post leaves the 7-day window; nothing after it went unread
        result = connector.fetch(cursor)
        problems += result.problems
        cursor = result.cursor
        clock.advance(hours=1)

    assert problems == [] and fake.count("search_recent") == 6
    assert cursor is not None and cursor.state["checked_at"] == (clock.now - timedelta(hours=1)).isoformat()


def test_a_search_stopped_for_eight_days_names_only_what_came_after_its_last_read(fake: FakeX, clock: Clock) -> None:
    fake.add_tweet("2001", "acme thanks", at=clock.now - timedelta(days=3))
    connector = make_connector(fake, clock, mode="search", query="acme")
    read = connector.fetch(None)
    clock.advance(days=8)  # the watcher was stopped
    later = fake.add_tweet("2001", "acme are you there?", at=clock.now - timedelta(hours=1))

    result = connector.fetch(read.cursor)

    assert [p.native_id for p in result.posts] == [later]
    [problem] = result.problems  # from the last read (8 days ago), not from the newest post (11 days ago)
    assert "posts from 2026-11-22 12:00 to 2026-11-23 12:05 UTC fell out of X's 7-day search window" in problem


def test_a_search_cursor_without_a_read_time_names_no_range(fake: FakeX, clock: Clock) -> None:
    stale = fake.add_tweet("2001", "acme thanks", at=clock.now - timedelta(days=9))
    connector = make_connector(fake, clock, mode="search", query="acme")

    result = connector.fetch(Cursor({"since_id": stale}))  # written before checked_at was kept: unknown

    assert result.problems == () and result.posts == ()
    assert result.cursor is not None and result.cursor.state["checked_at"] == clock.now.isoformat()


@pytest.mark.parametrize("status", [503, 400])
def test_max_pages_one_a_failing_gap_does_not_block_the_newest(
    fake: FakeX, clock: Clock, tmp_path: Path, status: int
) -> None:
    ids = mentions(fake, clock, 15, start=timedelta(hours=3))
    fake.fail("users_mentions", status, times=100, when=lambda params: "until_id" in params)
    gap = {"start_time": (clock.now - timedelta(hours=4)).isoformat(), "until_id": ids[5]}
    connector = make_connector(fake, clock, source="m", mode="mentions", max_results=10, max_pages=1)
    rig = make_rig(tmp_path, clock, {"m": connector})
    rig.store.sources.set_cursor("m", Cursor({"since_id": ids[-1], "gaps": [gap]}), now=clock.now)
    new = mentions(fake, clock, 3, start=timedelta(minutes=5))

    outcomes = []
    for _ in range(3):
        outcomes.append(rig.poll("m"))
        clock.advance(hours=1)

    assert [o.status for o in outcomes] == ["ok", "ok", "ok"]
    assert [o.report.stored for o in outcomes] == [3, 0, 0]
    assert {p.native_id for p in rig.store.posts.iter_posts()} == set(new)
    assert fake.count("users_mentions") == 6  # each poll: the gap once (refused), the top once
    [problem] = outcomes[0].report.problems
    assert problem.startswith(f"m: could not read the older posts still to read (before post {ids[5]}): ")
    assert str(status) in problem and "asked for again next poll" in problem
    assert rig.store.sources.get_cursor("m") == Cursor({"since_id": new[-1], "gaps": [gap]})  # the gap is kept
    assert rig.store.sources.source_state("m").healthy


def test_max_pages_one_a_rate_limited_gap_still_waits_for_the_window(fake: FakeX, clock: Clock) -> None:
    ids = mentions(fake, clock, 15, start=timedelta(hours=3))
    reset = clock.now + timedelta(minutes=10)
    fake.fail("users_mentions", 429, reset=int(reset.timestamp()), when=lambda params: "until_id" in params)
    gap = {"start_time": (clock.now - timedelta(hours=4)).isoformat(), "until_id": ids[5]}
    connector = make_connector(fake, clock, mode="mentions", max_results=10, max_pages=1)

    with pytest.raises(RateLimited) as caught:
        connector.fetch(Cursor({"since_id": ids[-1], "gaps": [gap]}))

    assert caught.value.until == reset and fake.count("users_mentions") == 1


def test_a_tweet_id_of_non_ascii_digits_is_a_problem_line(fake: FakeX, clock: Clock, tmp_path: Path) -> None:
    ids = mentions(fake, clock, 3, start=timedelta(hours=1))
    fake.malform(ids[1], id="²")
    rig = make_rig(tmp_path, clock, {"m": make_connector(fake, clock, source="m", mode="mentions")})

    outcome = rig.poll("m")

    assert outcome.status == "ok" and outcome.report.stored == 2
    assert sorted((p.native_id for p in rig.store.posts.iter_posts()), key=int) == [ids[0], ids[2]]
    [problem] = outcome.report.problems
    assert problem.startswith("m: X sent a tweet with an invalid id ('²', author_id='2001'")
