"""The Reddit connector through the real praw against the fake Reddit on 127.0.0.1."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import (
    AuthFailed,
    Connector,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
    connector_class,
)
from connectors.reddit.connector import RedditConnector, RequestMeter, build_streams, make_reddit
from tests.fakes.reddit_api import T_START, FakeReddit, Fault
from watcher.config import parse_config
from watcher.core.config import ConfigError, SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind
from watcher.ingest.pipeline import Pipeline
from watcher.ingest.poller import Poller
from watcher.queue.machine import Queue
from watcher.store import Store, StoredTriage

NOW = datetime.fromtimestamp(T_START + 6 * 3600, UTC)  # the fake's things are made from T_START on
BRAND = "LumoSupport"


def clock() -> datetime:
    return NOW


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    server = FakeReddit(username=BRAND).start()
    server.add_subreddit("LumoBank")
    yield server
    server.stop()


Connect = Callable[..., RedditConnector]


@pytest.fixture
def connect(fake: FakeReddit) -> Iterator[Connect]:
    """A connector with its own praw.Reddit pointed at the fake (logged in as the brand)."""
    built: list[RedditConnector] = []

    def build(
        *,
        mode: str = "subreddit",
        subreddits: tuple[str, ...] = ("LumoBank",),
        terms: tuple[str, ...] = (),
        include_comments: bool = True,
        logged_in: bool = True,
        password: str = "fake-password",
        secret: str = "fake-secret",
        timeout: float = 5.0,
        now: Callable[[], datetime] = clock,
        **options: Any,
    ) -> RedditConnector:
        meter = RequestMeter(clock=now)
        http = requests.Session()
        reddit = make_reddit(
            session=http,
            client_id="fake-client",
            client_secret=secret,
            user_agent="python:watcher-tests:0.1 (by /u/LumoSupport)",
            meter=meter,
            oauth_url=fake.url,
            reddit_url=fake.url,
            username=BRAND if logged_in else "",
            password=password if logged_in else "",
            timeout=timeout,
        )
        streams = build_streams(mode=mode, subreddits=subreddits, terms=terms, include_comments=include_comments)
        conn = RedditConnector(
            reddit,
            meter=meter,
            streams=streams,
            source="reddit_brand",
            brand_account=BRAND if logged_in else None,
            can_reply=logged_in,
            clock=now,
            http=http,
            **options,
        )
        built.append(conn)
        return conn

    yield build
    for conn in built:
        conn.close()


def roundtrip(cursor: Cursor | None) -> Cursor | None:
    """What the store does with a cursor between polls (and restarts)."""
    return Cursor.from_json(cursor.to_json()) if cursor else None


# --- fetching -----------------------------------------------------------------------


def test_first_fetch_returns_submissions_and_comments_oldest_first(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Card declined abroad", selftext="Any idea why?", author="ann")
    top = fake.add_comment(post["name"], "same for me in Spain", author="carl")
    reply = fake.add_comment(top["name"], "and in Italy", author="dora")

    result = connect().fetch(None)

    assert [p.native_id for p in result.posts] == [post["name"], top["name"], reply["name"]]
    first, second, third = result.posts
    assert first.kind == PostKind.POST and first.text == "Card declined abroad\n\nAny idea why?"
    assert first.url == f"https://www.reddit.com{post['permalink']}"
    assert first.raw["subreddit"] == "LumoBank"
    assert second.parent_text == "Card declined abroad"  # top-level comment: the submission's title
    assert third.parent_text == "same for me in Spain"  # from the same batch, no extra request
    assert third.conversation_id == post["name"]
    assert result.requests_made == 4  # token, r/LumoBank/new, r/LumoBank/comments, karma batch
    assert not result.has_more and not result.problems


def test_pagination_walks_pages_until_the_backfill_horizon(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "too old", created=NOW.timestamp() - 30 * 3600)
    recent = [fake.add_submission("LumoBank", f"post {i}") for i in range(5)]

    result = connect(include_comments=False, page_size=2, author_karma=False).fetch(None)

    assert [p.native_id for p in result.posts] == [d["name"] for d in recent]
    listing_calls = [r for r in fake.requests if r.path == "/r/LumoBank/new"]
    assert [r.params.get("after") for r in listing_calls] == [None, recent[3]["name"], recent[1]["name"]]
    assert result.requests_made == 1 + len(listing_calls)


def test_cursor_across_restarts_returns_only_new_items(fake: FakeReddit, connect: Connect) -> None:
    old = fake.add_submission("LumoBank", "first")
    cursor = roundtrip(connect(include_comments=False).fetch(None).cursor)
    fresh = fake.add_submission("LumoBank", "second")

    again = connect(include_comments=False).fetch(cursor)  # a new process: new connector, new praw

    assert [p.native_id for p in again.posts] == [fresh["name"]]
    assert old["name"] not in {p.native_id for p in again.posts}
    assert [p.native_id for p in connect(include_comments=False).fetch(roundtrip(again.cursor)).posts] == []


def test_equal_timestamps_at_the_boundary_are_not_skipped(fake: FakeReddit, connect: Connect) -> None:
    second = fake.tick()
    first = fake.add_submission("LumoBank", "one", created=second)
    cursor = roundtrip(connect(include_comments=False).fetch(None).cursor)
    late = fake.add_submission("LumoBank", "two, same second", created=second)

    result = connect(include_comments=False).fetch(cursor)

    assert [p.native_id for p in result.posts] == [late["name"]]
    assert first["name"] in result.cursor.state["streams"]["new:lumobank"]["top"]["seen"]  # type: ignore[union-attr]


def test_late_items_within_the_lookback_are_picked_up_once(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("personalfinance", "Lumo Bank card stuck")
    newest = fake.add_submission("personalfinance", "Lumo Bank app down")
    search = {"mode": "search", "subreddits": (), "terms": ("Lumo Bank",), "include_comments": False}
    cursor = roundtrip(connect(**search).fetch(None).cursor)
    strict = roundtrip(connect(lookback_minutes=0, **search).fetch(None).cursor)
    # indexed late: created before the newest one we have, shows up in search only now
    late = fake.add_submission("personalfinance", "Lumo Bank refund?", created=newest["created_utc"] - 120)

    result = connect(**search).fetch(cursor)

    assert [p.native_id for p in result.posts] == [late["name"]]
    assert connect(**search).fetch(roundtrip(result.cursor)).posts == ()
    assert connect(lookback_minutes=0, **search).fetch(strict).posts == ()  # without a look-back it is missed


def test_a_listing_that_ends_before_the_cursor_is_reported(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "known")
    cursor = roundtrip(connect(include_comments=False).fetch(None).cursor)
    burst = [fake.add_submission("LumoBank", f"burst {i}") for i in range(6)]
    fake.listing_cap = 4

    result = connect(include_comments=False, author_karma=False).fetch(cursor)

    assert [p.native_id for p in result.posts] == [d["name"] for d in burst[2:]]
    assert len(result.problems) == 1 and "listing ended before reaching the last stored item" in result.problems[0]


def test_a_quiet_subreddit_whose_listing_ends_is_no_problem(fake: FakeReddit, connect: Connect) -> None:
    """Six items in all: the listing ends, but it went through the items already stored,
    so nothing can be missing (only a listing that never reaches them may have lost some)."""
    quiet = [fake.add_submission("LumoBank", f"post {i}") for i in range(6)]
    cursor = roundtrip(connect(include_comments=False).fetch(None).cursor)
    fresh = fake.add_submission("LumoBank", "a new one")

    result = connect(include_comments=False, author_karma=False).fetch(cursor)

    assert [p.native_id for p in result.posts] == [fresh["name"]]
    assert result.problems == () and len(quiet) == 6


def test_page_cap_leaves_a_gap_that_later_fetches_close(fake: FakeReddit, connect: Connect) -> None:
    posts = [fake.add_submission("LumoBank", f"post {i}") for i in range(5)]
    conn = connect(include_comments=False, page_size=2, max_pages=1, author_karma=False)

    seen: list[str] = []
    cursor: Cursor | None = None
    rounds = []
    for _ in range(4):
        result = conn.fetch(cursor)
        cursor = roundtrip(result.cursor)
        seen.extend(p.native_id for p in result.posts)
        rounds.append(result.has_more)
        if not result.has_more:
            break

    assert sorted(seen) == sorted(d["name"] for d in posts) and len(seen) == len(set(seen))
    assert rounds == [True, True, False]
    newer = fake.add_submission("LumoBank", "after the backlog")
    assert [p.native_id for p in conn.fetch(cursor).posts] == [newer["name"]]


def _drain(
    conn: RedditConnector, cursor: Cursor | None, rounds: int = 6
) -> tuple[list[list[str]], list[str], Cursor | None]:
    """Fetch until nothing is left: the posts of each fetch, every problem line, the last cursor."""
    fetched: list[list[str]] = []
    problems: list[str] = []
    for _ in range(rounds):
        result = conn.fetch(cursor)
        cursor = roundtrip(result.cursor)
        fetched.append([p.native_id for p in result.posts])
        problems.extend(result.problems)
        if not result.has_more:
            break
    return fetched, problems, cursor


def test_a_gap_whose_resume_point_was_removed_is_walked_again_from_the_top(fake: FakeReddit, connect: Connect) -> None:
    base = NOW.timestamp() - 5 * 3600  # half an hour apart: older than the look-back remembers
    posts = [fake.add_submission("LumoBank", f"post {i}", created=base + i * 1800)["name"] for i in range(5)]
    conn = connect(include_comments=False, page_size=3, max_pages=1, author_karma=False)
    first = conn.fetch(None)
    assert [p.native_id for p in first.posts] == posts[2:] and first.has_more

    fake.remove(posts[2])  # a moderator removes the post the walk stopped at
    fetched, problems, cursor = _drain(conn, roundtrip(first.cursor))

    assert fetched == [[posts[1]], [posts[0]]]  # posts[3] is listed again but not returned twice
    assert len(problems) == 1
    assert problems[0].startswith(f"reddit_brand: r/LumoBank/new: Reddit listed nothing after {posts[2]}")
    assert "walked the listing again from the newest item" in problems[0]
    listing_calls = [r.params.get("after") for r in fake.requests if r.path == "/r/LumoBank/new"]
    assert listing_calls == [None, posts[2], None, posts[1]]
    newer = fake.add_submission("LumoBank", "after the backlog", created=NOW.timestamp() - 60)
    after = conn.fetch(cursor)
    assert [p.native_id for p in after.posts] == [newer["name"]] and not after.problems


def test_a_walk_again_from_the_top_that_hits_the_page_cap_still_skips_what_was_read(
    fake: FakeReddit, connect: Connect
) -> None:
    base = NOW.timestamp() - 5 * 3600
    posts = [fake.add_submission("LumoBank", f"post {i}", created=base + i * 1800)["name"] for i in range(6)]
    conn = connect(include_comments=False, page_size=2, max_pages=1, author_karma=False)
    first = conn.fetch(None)
    second = conn.fetch(roundtrip(first.cursor))
    assert [p.native_id for p in [*first.posts, *second.posts]] == [*posts[4:], *posts[2:4]]

    fake.remove(posts[2])
    fetched, problems, cursor = _drain(conn, roundtrip(second.cursor))

    # the walk from the top spends its one page on posts 5 and 4, already read; then 3 is skipped, 1 and 0 come
    assert fetched == [[], [posts[1]], [posts[0]]]
    assert len(problems) == 1 and posts[2] in problems[0]
    newer = fake.add_submission("LumoBank", "after the backlog", created=NOW.timestamp() - 60)
    assert [p.native_id for p in conn.fetch(cursor).posts] == [newer["name"]]


def _behind_by_the_listing_cap(fake: FakeReddit, connect: Connect) -> tuple[RedditConnector, Cursor, list[str]]:
    """A first fetch reads 2 of 6 posts (page cap), then 5 newer posts push the
    4 unread ones and the resume point out of a 6-item listing."""
    base = NOW.timestamp() - 5 * 3600
    posts = [fake.add_submission("LumoBank", f"post {i}", created=base + i * 60)["name"] for i in range(6)]
    conn = connect(include_comments=False, page_size=2, max_pages=1, author_karma=False)
    first = conn.fetch(None)
    assert [p.native_id for p in first.posts] == posts[4:] and first.has_more
    fake.listing_cap = 6
    for i in range(5):
        fake.add_submission("LumoBank", f"new {i}", created=base + 4000 + i * 60)
    return conn, roundtrip(first.cursor), posts


def test_a_resume_point_that_fell_out_of_the_listing_says_the_older_posts_may_be_missing(
    fake: FakeReddit, connect: Connect
) -> None:
    conn, cursor, posts = _behind_by_the_listing_cap(fake, connect)

    fetched, problems, _ = _drain(conn, cursor)

    stopped_at = datetime.fromtimestamp(NOW.timestamp() - 5 * 3600 + 4 * 60, UTC)  # posts[4], the resume point
    assert fetched == [[], [], []]  # the walk from the top finds only what it read or will read from the top
    assert problems == [
        f"reddit_brand: r/LumoBank/new: Reddit listed nothing after {posts[4]}, where the previous fetch stopped "
        "(the item was removed, or fell out of Reddit's listing); walked the listing again from the newest item "
        "down to where the unfinished walk began, skipping what it had already read",
        "reddit_brand: r/LumoBank/new: the listing ended before the walk started again from the newest item got "
        "back down to where the unfinished walk had stopped (Reddit lists about 1000 items), so items created "
        f"before {stopped_at:%Y-%m-%d %H:%M} UTC that it had not read yet may be missing; poll this source more often",
    ]


def test_a_walk_again_from_the_top_is_not_started_twice(fake: FakeReddit, connect: Connect) -> None:
    conn, cursor, posts = _behind_by_the_listing_cap(fake, connect)
    fake.after_on_last_page = True  # the walk again stops at the page cap on the last page, with an after

    fetched, problems, cursor = _drain(conn, cursor, rounds=10)

    assert fetched == [[], [], [], []]  # the fourth finds nothing after the last item: the listing's end
    assert [r.params.get("after") for r in fake.requests if r.path == "/r/LumoBank/new"][1:].count(None) == 1
    assert len(problems) == 2 and f"nothing after {posts[4]}" in problems[0] and "may be missing" in problems[1]
    newer = fake.add_submission("LumoBank", "after the backlog", created=NOW.timestamp() - 60)
    assert newer["name"] in [p.native_id for p in conn.fetch(cursor).posts]


def test_a_second_vanished_resume_point_ends_the_walk_with_a_problem_line(fake: FakeReddit, connect: Connect) -> None:
    base = NOW.timestamp() - 5 * 3600
    posts = [fake.add_submission("LumoBank", f"post {i}", created=base + i * 1800)["name"] for i in range(6)]
    conn = connect(include_comments=False, page_size=2, max_pages=1, author_karma=False)
    cursor = roundtrip(conn.fetch(roundtrip(conn.fetch(None).cursor)).cursor)  # read 5 and 4, then 3 and 2
    fake.remove(posts[2])
    again = conn.fetch(cursor)  # walked again from the top: 5 and 4, read already
    below = conn.fetch(roundtrip(again.cursor))
    assert [p.native_id for p in below.posts] == [posts[1]] and below.has_more
    fake.remove(posts[1])  # the new resume point vanishes too

    ended = conn.fetch(roundtrip(below.cursor))

    assert ended.posts == () and not ended.has_more  # not walked from the top a second time
    assert ended.problems == (
        f"reddit_brand: r/LumoBank/new: Reddit listed nothing after {posts[1]}, where the previous fetch stopped, "
        "and this unfinished walk was already walked again from the newest item once, so it ends here; if "
        f"{posts[1]} was removed, older items not read yet may be missing",
    )
    assert [r.params.get("after") for r in fake.requests if r.path == "/r/LumoBank/new"][-1] == posts[1]


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"created_utc": None}, "its created_utc is None, not a time in epoch seconds"),
        ({"created_utc": "soon"}, "its created_utc is 'soon', not a time in epoch seconds"),
        ({"created_utc": float("nan")}, "its created_utc is nan, not a time in epoch seconds"),
        ({"created_utc": 1e20}, "its created_utc 1e+20 is not a possible time"),
        ({"name": None}, "its name is None, not a Reddit fullname like t3_abc123"),
        ({"name": "t1_wrongkind"}, "its name is 't1_wrongkind', not a Reddit fullname like t3_abc123"),
    ],
)
def test_a_malformed_item_is_a_problem_line_and_the_rest_is_read(
    fake: FakeReddit, connect: Connect, fields: dict[str, Any], wrong: str
) -> None:
    posts = [fake.add_submission("LumoBank", f"post {i}", author="ann")["name"] for i in range(5)]
    fake.corrupt(posts[2], **fields)
    conn = connect(include_comments=False, page_size=2, author_karma=False)

    result = conn.fetch(None)

    assert [p.native_id for p in result.posts] == [posts[0], posts[1], posts[3], posts[4]]
    assert result.problems == (
        f"reddit_brand: r/LumoBank/new: skipped {posts[2]}: {wrong}; the rest of the listing was read",
    )
    again = conn.fetch(roundtrip(result.cursor))  # the cursor moved past it: reported once, nothing repeated
    assert again.posts == () and again.problems == ()
    newer = fake.add_submission("LumoBank", "after the bad one")
    assert [p.native_id for p in conn.fetch(roundtrip(again.cursor)).posts] == [newer["name"]]


def test_a_malformed_item_in_a_gap_does_not_stop_the_gap(fake: FakeReddit, connect: Connect) -> None:
    posts = [fake.add_submission("LumoBank", f"post {i}")["name"] for i in range(5)]
    fake.corrupt(posts[1], created_utc=None)
    conn = connect(include_comments=False, page_size=2, max_pages=1, author_karma=False)

    fetched, problems, _ = _drain(conn, None)

    assert fetched == [[posts[3], posts[4]], [posts[2]], [posts[0]]]
    assert problems == [f"reddit_brand: r/LumoBank/new: skipped {posts[1]}: its created_utc is None, "
                        f"not a time in epoch seconds; the rest of the listing was read"]  # fmt: skip


@pytest.mark.slow
def test_a_poison_item_does_not_block_the_poller(fake: FakeReddit, connect: Connect, tmp_path: Path) -> None:
    good = fake.add_submission("LumoBank", "my card is blocked", author="ann")
    broken = fake.add_submission("LumoBank", "second", author="bob")
    fake.corrupt(broken["name"], created_utc=None)
    source = SourceConfig(name="reddit_brand", kind="reddit")
    with Store(tmp_path / "w.db") as store:
        config = parse_config({"brand": {"name": "Lumo"}}, file=str(tmp_path / "c.toml"))
        poller = Poller(source, connect(include_comments=False), Pipeline(store, config, clock=clock))
        first, second = poller.poll(), poller.poll()
        assert (first.status, second.status) == ("ok", "ok")
        assert store.posts.count_posts() == 1 and store.sources.source_state("reddit_brand").failures == 0
        assert store.posts.get_post(f"reddit:{good['name']}") is not None


def test_an_old_cursor_gap_without_a_mark_rereads_once_and_stores_nothing_twice(
    fake: FakeReddit, connect: Connect, tmp_path: Path
) -> None:
    base = NOW.timestamp() - 5 * 3600
    posts = [fake.add_submission("LumoBank", f"post {i}", created=base + i * 1800)["name"] for i in range(5)]
    source = SourceConfig(name="reddit_brand", kind="reddit")
    with Store(tmp_path / "w.db") as store:
        config = parse_config({"brand": {"name": "Lumo"}}, file=str(tmp_path / "c.toml"))
        conn = connect(include_comments=False, page_size=3, max_pages=1, author_karma=False)
        pipeline = Pipeline(store, config, clock=clock)
        first = conn.fetch(None)
        pipeline.ingest("reddit_brand", first)
        state = roundtrip(first.cursor).state
        for stream in state["streams"].values():  # as the previous version wrote it: no mark
            stream.get("gap", {}).pop("passed", None)
        store.sources.set_cursor("reddit_brand", Cursor(state), now=clock())
        fake.remove(posts[2])

        outcome = Poller(source, conn, pipeline).poll()

        # post 3 comes back once more (no mark of how far the old walk went; 4 is the top) but is not stored again
        assert outcome.status == "ok" and outcome.report.stored == 2  # posts 1 and 0
        assert outcome.report.already_known == 1
        assert sorted(p.native_id for p in store.posts.iter_posts()) == sorted(posts)


def test_unreadable_karma_loses_only_the_karma(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Card declined", author="ann")
    fake.add_user("ann")["link_karma"] = "lots"

    result = connect(include_comments=False).fetch(None)

    assert [p.native_id for p in result.posts] == [post["name"]] and not result.problems
    assert result.posts[0].author.followers == 0


def test_deleted_items_are_skipped_and_deleted_authors_kept(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Still broken", author="[deleted]")
    gone = fake.add_comment(post["name"], "[deleted]", author="[deleted]")
    removed = fake.add_submission("LumoBank", "spam", selftext="[removed]", removed_by_category="moderator")
    kept = fake.add_comment(post["name"], "[removed]", author="eve")

    result = connect().fetch(None)

    ids = [p.native_id for p in result.posts]
    assert ids == [post["name"]]
    assert result.posts[0].author.handle == "[deleted]"
    assert {gone["name"], removed["name"], kept["name"]}.isdisjoint(ids)
    # the cursor still covers them: they do not come back
    assert connect().fetch(roundtrip(result.cursor)).posts == ()


def test_parent_comment_outside_the_batch_is_fetched_in_one_request(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "App update")
    ours = fake.add_comment(post["name"], "We are on it!", author=BRAND)
    cursor = roundtrip(connect().fetch(None).cursor)
    answer = fake.add_comment(ours["name"], "still waiting", author="gus")
    fake.requests.clear()

    result = connect().fetch(cursor)

    assert [p.native_id for p in result.posts] == [answer["name"]]
    assert result.posts[0].parent_text == "We are on it!"
    assert result.posts[0].kind == PostKind.REPLY  # an answer to the brand
    assert [r.params["id"] for r in fake.requests if r.path == "/api/info"] == [ours["name"]]


def test_author_karma_and_own_posts(fake: FakeReddit, connect: Connect) -> None:
    fake.add_user("ann", link_karma=1200, comment_karma=300)
    fake.add_submission("LumoBank", "Love the new card", author="ann")
    fake.add_submission("LumoBank", "Scheduled maintenance tonight", author=BRAND)

    posts = {p.author.handle: p for p in connect(include_comments=False).fetch(None).posts}

    assert posts["ann"].author.followers == 1500 and posts["ann"].raw["author_karma"] == 1500
    assert posts[BRAND].is_own and not posts["ann"].is_own


def test_subreddit_terms_filter_comments(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("Banking", "Which bank?")
    hit = fake.add_comment(post["name"], "Lumo's app froze on me", author="hal")
    fake.add_comment(post["name"], "I like my credit union", author="ivy")

    result = connect(subreddits=("Banking",), terms=("lumo",), author_karma=False).fetch(None)

    assert [p.native_id for p in result.posts] == [hit["name"]]


def test_search_mode_finds_posts_across_reddit(fake: FakeReddit, connect: Connect) -> None:
    hit = fake.add_submission("personalfinance", "Is Lumo Bank safe?")
    fake.add_submission("personalfinance", "Other bank question")

    reader = connect(mode="search", subreddits=(), terms=("Lumo Bank",), include_comments=False, logged_in=False)
    result = reader.fetch(None)  # application-only OAuth: no account needed to read

    assert [p.native_id for p in result.posts] == [hit["name"]]
    assert result.posts[0].kind == PostKind.MENTION
    assert [r.params.get("q") for r in fake.requests if r.path == "/search"] == ['"Lumo Bank"']
    assert [r.form["grant_type"] for r in fake.requests if r.path == "/api/v1/access_token"] == ["client_credentials"]


def test_inbox_mode_reads_mentions_and_replies(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("Banking", "Help")
    mention = fake.add_comment(post["name"], "maybe u/LumoSupport can help", author="jo")
    ours = fake.add_comment(post["name"], "DM us please", author=BRAND)
    answer = fake.add_comment(ours["name"], "sent!", author="jo")
    fake.deliver("mentions", mention["name"])
    fake.deliver("comments", answer["name"])
    fake.deliver("mentions", answer["name"])  # a reply that also names the brand sits in both boxes

    result = connect(mode="inbox", subreddits=()).fetch(None)

    kinds = {p.native_id: p.kind for p in result.posts}
    assert len(result.posts) == 2
    assert kinds == {mention["name"]: PostKind.MENTION, answer["name"]: PostKind.REPLY}
    assert {p.native_id: p.parent_text for p in result.posts}[answer["name"]] == "DM us please"


# --- failures ------------------------------------------------------------------------


def test_429_raises_rate_limited_until_the_reset(fake: FakeReddit, connect: Connect) -> None:
    fake.fail_next(
        "/r/LumoBank/new", status=429, x_ratelimit_remaining="0", x_ratelimit_used="600", x_ratelimit_reset="120"
    )
    with pytest.raises(RateLimited) as caught:
        connect().fetch(None)
    assert caught.value.until == NOW + timedelta(seconds=120)
    assert "429" in caught.value.message


def test_low_budget_stops_early_then_waits_for_the_window(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "hello")
    fake.set_rate(remaining=6, used=594, reset=42)
    conn = connect(min_remaining=5)

    first = conn.fetch(None)  # token + r/LumoBank/new leaves 5: stop before the comments listing
    assert [p.text for p in first.posts] == ["hello"] and first.has_more
    assert "comments:lumobank" not in first.cursor.state["streams"]  # type: ignore[union-attr]
    before = len(fake.requests)
    with pytest.raises(RateLimited) as caught:
        conn.fetch(roundtrip(first.cursor))
    assert len(fake.requests) == before  # asked nothing
    assert caught.value.until == NOW + timedelta(seconds=42)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_source_unavailable_without_retry_sleeps(
    fake: FakeReddit, connect: Connect, status: int
) -> None:
    fake.fail_next("/r/LumoBank/new", status=status)
    with pytest.raises(SourceUnavailable, match=str(status)):
        connect().fetch(None)
    assert fake.paths().count("/r/LumoBank/new") == 1  # prawcore did not retry


@pytest.mark.parametrize("body", [{"kind": "Listing"}, {"kind": "Listing", "data": {"children": None}}, [1, 2]])
def test_an_answer_that_is_not_a_listing_is_source_unavailable(fake: FakeReddit, connect: Connect, body: Any) -> None:
    fake.faults.append(Fault(path="/r/LumoBank/new", status=200, body=body))
    with pytest.raises(SourceUnavailable, match="r/LumoBank/new did not return a listing"):
        connect(include_comments=False).fetch(None)


def test_a_listing_child_without_data_is_a_problem_line(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Card declined")
    listing = fake.listing([{"kind": "t3", "data": None}, fake.thing(post["name"])])
    fake.faults.append(Fault(path="/r/LumoBank/new", status=200, body=listing))

    result = connect(include_comments=False, author_karma=False).fetch(None)

    assert [p.native_id for p in result.posts] == [post["name"]]
    assert result.problems == (
        "reddit_brand: r/LumoBank/new: skipped an item without a name or id: its name is None, not a Reddit "
        "fullname like t3_abc123; the rest of the listing was read",
    )


def test_timeout_is_source_unavailable(fake: FakeReddit, connect: Connect) -> None:
    fake.fail_next("/r/LumoBank/new", hang=True)
    with pytest.raises(SourceUnavailable, match="no answer within"):
        connect(timeout=0.3).fetch(None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"secret": "wrong"}, "client id and secret"), ({"password": "wrong"}, "username/password")],
)
def test_bad_credentials_are_auth_failed(connect: Connect, kwargs: dict[str, str], expected: str) -> None:
    with pytest.raises(AuthFailed, match=expected) as caught:
        connect(**kwargs).fetch(None)
    assert "wrong" not in str(caught.value)  # never echo a secret


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("private", "r/Secret is private"),
        ("banned", "r/Secret is banned"),
        ("quarantined", "r/Secret is quarantined"),
        (None, "r/Secret does not exist"),
    ],
)
def test_unreadable_subreddit_is_misconfigured_and_named(
    fake: FakeReddit, connect: Connect, status: str | None, expected: str
) -> None:
    if status:
        fake.add_subreddit("Secret", status)
    with pytest.raises(SourceMisconfigured, match=expected) as caught:
        connect(subreddits=("LumoBank", "Secret")).fetch(None)
    assert "subreddits" in caught.value.message


def test_poller_persists_the_rate_limit_window_and_resumes(fake: FakeReddit, connect: Connect, tmp_path: Path) -> None:
    first = fake.add_submission("LumoBank", "My card was declined, help!", author="ann")
    # Retry-After without a spent x-ratelimit window: prawcore itself would otherwise sleep
    # (in real time) until the window resets before the next request
    fake.fail_next("/r/LumoBank/comments", status=429, retry_after="90")
    now = {"at": NOW}

    def moving_clock() -> datetime:
        return now["at"]

    source = SourceConfig(name="reddit_brand", kind="reddit")
    with Store(tmp_path / "watcher.db") as store:
        config = parse_config({"brand": {"name": "Lumo"}}, file=str(tmp_path / "config.toml"))
        pipeline = Pipeline(store, config, clock=moving_clock)
        poller = Poller(source, connect(now=moving_clock), pipeline)

        limited = poller.poll()
        assert limited.status == "rate_limited" and limited.next_attempt_at == NOW + timedelta(seconds=90)
        assert store.sources.source_state("reddit_brand").backoff_until == NOW + timedelta(seconds=90)
        assert store.posts.count_posts() == 0  # nothing half-stored; the cursor did not move

        before = len(fake.requests)
        now["at"] = NOW + timedelta(seconds=30)
        assert poller.poll().status == "skipped" and len(fake.requests) == before  # waits without asking

        now["at"] = NOW + timedelta(seconds=120)
        done = poller.poll()
        assert done.status == "ok" and store.posts.get_post(f"reddit:{first['name']}") is not None


# --- reply ----------------------------------------------------------------------------


def test_reply_to_submission_and_comment(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    comment = fake.add_comment(post["name"], "mine too", author="lee")
    conn = connect()
    by_id = {p.native_id: p for p in conn.fetch(None).posts}

    on_post = conn.reply(by_id[post["name"]], "Sorry Kim, we sent you a DM.")
    on_comment = conn.reply(by_id[comment["name"]], "Lee, same here: check your DMs.")

    mine = {d["name"]: d for d in fake.replies_by(BRAND)}
    assert mine[on_post.native_id]["parent_id"] == post["name"]
    assert mine[on_comment.native_id]["parent_id"] == comment["name"]
    assert on_post.url.startswith("https://www.reddit.com/r/LumoBank/comments/")
    assert [r.form["thing_id"] for r in fake.requests if r.path == "/api/comment"] == [post["name"], comment["name"]]


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        ("THREAD_LOCKED", "Comments are locked.", "is locked"),
        ("TOO_OLD", "that's a piece of history now; it's too late to reply to it", "is archived"),
        ("DELETED_COMMENT", "that comment has been deleted", "was deleted"),
        ("DELETED_LINK", "the link you are commenting on has been deleted", "was deleted"),
        ("RATELIMIT", "Looks like you've been doing that a lot. Take a break for 5 minutes.", "rate-limiting"),
    ],
)
def test_reply_rejections_are_clear(
    fake: FakeReddit, connect: Connect, error_type: str, message: str, expected: str
) -> None:
    post = fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect()
    target = conn.fetch(None).posts[0]
    fake.reject_replies_to(post["name"], error_type, message)

    with pytest.raises(ReplyRejected, match=expected):
        conn.reply(target, "We are looking into it")
    assert fake.replies_by(BRAND) == []
    assert fake.paths().count("/api/comment") == 1  # praw did not sleep and re-send


def test_reply_forbidden_and_read_only(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect()
    target = conn.fetch(None).posts[0]
    fake.fail_next("/api/comment", status=403)
    with pytest.raises(ReplyRejected, match="locked"):
        conn.reply(target, "hello")
    with pytest.raises(ReplyRejected, match="without the brand account logged in"):
        connect(logged_in=False).reply(target, "hello")


def test_reply_waits_for_a_spent_window_instead_of_sleeping(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect(include_comments=False, author_karma=False)
    target = conn.fetch(None).posts[0]
    fake.set_rate(remaining=1, used=599, reset=30)
    assert conn.find_own_reply(target) is None  # this answer spends the window
    before = len(fake.requests)

    with pytest.raises(ReplyRejected, match="budget is spent until"):
        conn.reply(target, "Hi Kim")
    with pytest.raises(RateLimited):
        conn.find_own_reply(target)
    assert len(fake.requests) == before and fake.replies_by(BRAND) == []


def test_reply_timeout_is_outcome_unknown_and_found_afterwards(fake: FakeReddit, connect: Connect) -> None:
    fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect(timeout=0.3)
    target = conn.fetch(None).posts[0]
    fake.hang_after_replies = 1

    with pytest.raises(ReplyOutcomeUnknown):
        conn.reply(target, "We sent you a DM")

    found = conn.find_own_reply(target, "We sent  you a DM\n")
    assert found is not None and found.native_id == fake.replies_by(BRAND)[0]["name"]
    assert fake.paths().count("/api/comment") == 1  # prawcore did not re-send the POST


def test_find_own_reply_sees_native_replies_only_by_the_brand(fake: FakeReddit, connect: Connect) -> None:
    post = fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    comment = fake.add_comment(post["name"], "mine too", author="lee")
    conn = connect()
    by_id = {p.native_id: p for p in conn.fetch(None).posts}
    fake.add_comment(comment["name"], "not the brand", author="mallory")
    assert conn.find_own_reply(by_id[comment["name"]]) is None

    native = fake.add_comment(comment["name"], "Hi Lee, typed on reddit.com", author=BRAND)

    assert conn.find_own_reply(by_id[comment["name"]]).native_id == native["name"]  # type: ignore[union-attr]
    assert conn.find_own_reply(by_id[comment["name"]], "a different text") is None
    assert conn.find_own_reply(by_id[post["name"]]) is None  # the brand's reply is not on the post itself


# --- exactly once through the queue ------------------------------------------------------


def _queued(store: Store, post: Any) -> tuple[Queue, int]:
    store.posts.insert_post(
        post,
        StoredTriage(score=70, priority="high", needs_reply=True, sentiment=-0.5, sentiment_label="negative",
                     lang="en", intents=("complaint",), reasons=("test",)),
        fetched_at=NOW,
    )  # fmt: skip
    item_id = store.items.create_queue_item(post.key, priority="high", score=70, channel="#care", now=NOW)
    assert item_id is not None
    queue = Queue(store, clock=clock)
    queue.draft(item_id, "agent", "Sorry Kim, we sent you a DM.")
    queue.approve(item_id, "lead")
    return queue, item_id


def test_queue_retry_after_a_lost_answer_posts_once(fake: FakeReddit, connect: Connect, tmp_path: Path) -> None:
    fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect(timeout=0.3)
    post = conn.fetch(None).posts[0]
    with Store(tmp_path / "watcher.db") as store:
        queue, item_id = _queued(store, post)
        fake.hang_after_replies = 1  # posted, but the answer is lost
        link = post.native_id[3:]
        fake.fail_next(f"/comments/{link}", status=503)  # and the first look fails too: send() gives up

        first = queue.send(item_id, "lead", conn)
        assert first.item.state == "failed" and "check the platform first" in first.item.last_error

        again = queue.send(item_id, "lead", conn)  # the retry looks first and finds it

        assert again.item.state == "replied"
        assert len(fake.replies_by(BRAND)) == 1
        assert fake.paths().count("/api/comment") == 1
        assert again.item.reply_url == f"https://www.reddit.com{fake.replies_by(BRAND)[0]['permalink']}"


def test_queue_retry_after_a_timeout_before_posting_posts_once(
    fake: FakeReddit, connect: Connect, tmp_path: Path
) -> None:
    fake.add_submission("LumoBank", "Where is my refund?", author="kim")
    conn = connect(timeout=0.3)
    post = conn.fetch(None).posts[0]
    with Store(tmp_path / "watcher.db") as store:
        queue, item_id = _queued(store, post)
        fake.fail_next("/api/comment", hang=True)  # nothing posted, no answer

        first = queue.send(item_id, "lead", conn)
        assert first.item.state == "failed" and "may or may not" in first.item.last_error

        second = queue.send(item_id, "lead", conn)
        third = queue.send(item_id, "lead", conn)

        assert second.item.state == "replied" and not third.changed
        assert len(fake.replies_by(BRAND)) == 1


# --- configuration -------------------------------------------------------------------------


def _source(fake: FakeReddit, **options: Any) -> SourceConfig:
    base = {"oauth_url": fake.url, "reddit_url": fake.url, "subreddits": ["LumoBank"], "user_agent": "python:t:1"}
    return SourceConfig(name="reddit_brand", kind="reddit", options={**base, **options})


ENV = {
    "REDDIT_CLIENT_ID": "fake-client",
    "REDDIT_CLIENT_SECRET": "fake-secret",
    "REDDIT_USERNAME": BRAND,
    "REDDIT_PASSWORD": "fake-password",
}


def test_from_config_builds_a_working_connector(fake: FakeReddit) -> None:
    post = fake.add_submission("LumoBank", "hi", created=datetime.now(UTC).timestamp() - 60)
    cls = connector_class("reddit")
    conn = cls.from_config(_source(fake), ENV)
    assert isinstance(conn, RedditConnector) and isinstance(conn, Connector)
    assert [p.native_id for p in conn.fetch(None).posts] == [post["name"]]
    assert conn.brand_account == BRAND and conn.can_reply
    conn.close()


def test_from_config_refresh_token_and_inbox(fake: FakeReddit) -> None:
    env = {"REDDIT_CLIENT_ID": "fake-client", "REDDIT_CLIENT_SECRET": "fake-secret", "BRAND_TOKEN": "fake-refresh"}
    conn = RedditConnector.from_config(_source(fake, mode="inbox", subreddits=[], refresh_token_env="BRAND_TOKEN"), env)
    assert conn.fetch(None).posts == ()
    assert conn._brand() == BRAND  # learnt from /api/v1/me
    conn.close()


@pytest.mark.parametrize(
    ("options", "env", "expected"),
    [
        (
            {"mode": "inbox", "subreddits": []},
            {"REDDIT_CLIENT_ID": "a", "REDDIT_CLIENT_SECRET": "b"},
            "mode: inbox mode",
        ),
        ({"mode": "search", "subreddits": []}, ENV, "terms: search mode needs terms"),
        ({"mode": "search", "terms": ["Lumo"], "subreddits": [], "include_comments": True}, ENV, "include_comments"),
        ({"subreddits": []}, ENV, "subreddits: subreddit mode needs"),
        ({"subreddits": ["r/ok", "bad name!"]}, ENV, "'bad name!' is not a subreddit name"),
        ({"oauth_url": "http://proxy.example"}, ENV, "oauth_url: must be an https"),
        ({"modes": "x"}, ENV, "unknown key 'modes'"),
        ({"page_size": 500}, ENV, "page_size: must be between 1 and 100"),
        ({"user_agent": "bot"}, ENV, "user_agent: too short"),
        ({}, {}, "REDDIT_CLIENT_ID is not set"),
    ],
)
def test_config_problems_name_the_key(
    fake: FakeReddit, options: dict[str, Any], env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        RedditConnector.from_config(_source(fake, **options), env)
    assert expected in str(caught.value)
    assert "fake-secret" not in str(caught.value)


def test_one_praw_instance_per_connector(fake: FakeReddit) -> None:
    first = RedditConnector.from_config(_source(fake), ENV)
    second = RedditConnector.from_config(replace(_source(fake), name="other"), ENV)
    assert first.reddit is not second.reddit and first.meter is not second.meter
    first.close()
    second.close()


def test_documented_example_tables_are_valid() -> None:
    """The reddit tables of config.example.toml each build a connector."""
    example = Path(__file__).resolve().parents[3] / "config.example.toml"
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    config = parse_config(data, file=str(example))
    sources = [s for s in config.sources if s.kind == "reddit"]
    assert len(sources) == 3
    for source in sources:
        conn = RedditConnector.from_config(source, ENV)  # builds praw.Reddit; no request is made
        assert conn.streams and conn.can_reply
        conn.close()
