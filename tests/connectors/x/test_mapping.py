"""Pure parts of the X connector: payload -> Post, page parsing, cursor state, gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import connector_class
from connectors.x.connector import XConnector
from connectors.x.cursor import Span, XState, merge_gaps
from connectors.x.mapping import TweetError, parse_page, snowflake_at, snowflake_time, tweet_to_post
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind

AT = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
TWEET_ID = snowflake_at(AT, 7)
PARENT_ID = snowflake_at(AT - timedelta(hours=1), 3)
USERS = {
    "2001": {
        "id": "2001",
        "username": "alice",
        "name": "Alice A",
        "verified": False,
        "verified_type": "blue",
        "public_metrics": {"followers_count": 1234},
    },
    "1000": {"id": "1000", "username": "acme", "name": "Acme"},
}
PARENT = {"id": PARENT_ID, "text": "New card &amp; app are out", "author_id": "1000"}


def tweet(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": TWEET_ID,
        "text": "@acme my card &amp; app are broken &lt;3",
        "author_id": "2001",
        "created_at": "2026-11-22T10:30:00.000Z",
        "lang": "en",
        "conversation_id": PARENT_ID,
        "public_metrics": {"like_count": 3, "retweet_count": 2, "quote_count": 1, "reply_count": 4},
        "referenced_tweets": [{"type": "replied_to", "id": PARENT_ID}],
        "edit_history_tweet_ids": [TWEET_ID],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def test_full_payload_maps_every_field() -> None:
    post = tweet_to_post(tweet(), USERS, {PARENT_ID: PARENT}, source="x_mentions", brand_user_id="1000")

    assert post.key == f"x:{TWEET_ID}"
    assert post.kind == PostKind.REPLY
    assert post.text == "@acme my card & app are broken <3"
    assert post.created_at == AT
    assert post.author.handle == "alice" and post.author.display_name == "Alice A"
    assert post.author.followers == 1234 and post.author.verified
    assert post.url == f"https://x.com/alice/status/{TWEET_ID}"
    assert post.lang == "en"
    assert post.parent_id == PARENT_ID and post.parent_text == "New card & app are out"
    assert post.conversation_id == PARENT_ID
    assert (post.metrics.likes, post.metrics.reposts, post.metrics.replies) == (3, 3, 4)
    assert not post.is_own and not post.is_repost
    assert post.source == "x_mentions"
    assert post.raw["tweet"]["id"] == TWEET_ID and post.raw["parent"] == PARENT


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"created_at": None}, lambda p: p.created_at == AT),  # from the id
        ({"created_at": "yesterday"}, lambda p: p.created_at == AT),
        ({"lang": None}, lambda p: p.lang is None),
        ({"lang": "und"}, lambda p: p.lang is None),
        ({"lang": "qme"}, lambda p: p.lang is None),
        ({"public_metrics": None}, lambda p: p.metrics.engagement == 0),
        ({"public_metrics": {"like_count": None}}, lambda p: p.metrics.engagement == 0),
        ({"conversation_id": None}, lambda p: p.conversation_id is None),
        ({"referenced_tweets": None}, lambda p: p.kind == PostKind.MENTION and p.parent_id is None),
        ({"author_id": None}, lambda p: p.author.id == "unknown" and p.author.handle == "unavailable"),
        ({"author_id": "9999"}, lambda p: p.author.id == "9999" and "deleted" in p.author.display_name),
        ({"author_id": "1000"}, lambda p: p.is_own and p.kind == PostKind.POST and p.author.followers == 0),
        (
            {"referenced_tweets": [{"type": "retweeted", "id": PARENT_ID}]},
            lambda p: p.is_repost and p.parent_id is None,
        ),
        ({"referenced_tweets": [{"type": "quoted"}]}, lambda p: p.parent_id is None),
    ],
)
def test_missing_or_odd_optional_fields_default(fields: dict[str, Any], check: Any) -> None:
    post = tweet_to_post(tweet(**fields), USERS, {}, brand_user_id="1000")

    assert check(post)


def test_reply_whose_parent_is_not_included_has_no_parent_text() -> None:
    post = tweet_to_post(tweet(), USERS, {})

    assert post.parent_id == PARENT_ID and post.parent_text is None


@pytest.mark.parametrize("fields", [{"id": None}, {"id": "abc"}, {"text": None}])
def test_tweets_without_id_or_text_are_refused_with_a_reason(fields: dict[str, Any]) -> None:
    with pytest.raises(TweetError):
        tweet_to_post(tweet(**fields), USERS, {})


def test_parse_page_reads_meta_includes_errors_and_rate_headers() -> None:
    body = {
        "data": [tweet()],
        "includes": {"users": list(USERS.values()), "tweets": [PARENT]},
        "meta": {"result_count": 1, "newest_id": TWEET_ID, "oldest_id": TWEET_ID, "next_token": "abc"},
        "errors": [{"title": "Not Found Error", "resource_type": "tweet"}],
    }
    page = parse_page(body, {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1795348800"})

    assert page.next_token == "abc" and page.newest_id == page.oldest_id == TWEET_ID
    assert set(page.users) == {"2001", "1000"} and set(page.included_tweets) == {PARENT_ID}
    assert len(page.errors) == 1
    assert page.remaining == 0 and page.reset_at == datetime.fromtimestamp(1795348800, UTC)


def test_parse_page_of_an_empty_answer() -> None:
    page = parse_page({"meta": {"result_count": 0}}, {"x-rate-limit-remaining": "many"})

    assert page.tweets == () and page.next_token is None and page.newest_id is None
    assert page.remaining is None and page.reset_at is None


def test_snowflake_round_trip() -> None:
    assert snowflake_time(snowflake_at(AT, 12)) == AT
    assert int(snowflake_at(AT)) < int(snowflake_at(AT + timedelta(milliseconds=1)))


def test_cursor_state_round_trips_through_json() -> None:
    state = XState(
        top=Span(since_id="20"),
        gaps=(Span(since_id="5", until_id="10"), Span(start_time=AT, until_id="4")),
        conversations=("7", "8"),
    )

    cursor = Cursor.from_json(state.to_cursor().to_json())

    assert XState.from_cursor(cursor) == state
    assert XState.from_cursor(None) is None and XState.from_cursor(Cursor({})) is None


def test_merging_gaps_never_drops_a_range() -> None:
    gaps = [Span(since_id=str(n * 10), until_id=str(n * 10 + 5)) for n in range(5, 0, -1)]

    merged = merge_gaps(gaps, limit=3)

    assert len(merged) == 3
    assert merged[-1] == Span(since_id="10", until_id="35")  # 10..15, 20..25, 30..35 and what lay between
    covered = [(int(g.since_id or 0), int(g.until_id or 0)) for g in merged]
    for gap in gaps:
        assert any(low <= int(gap.since_id or 0) and int(gap.until_id or 0) <= high for low, high in covered)


def test_the_registry_finds_the_x_connector() -> None:
    assert connector_class("x") is XConnector


def test_parse_page_leaves_out_items_without_a_valid_id_and_says_what_is_wrong() -> None:
    body = {"data": [tweet(), {**tweet(), "id": None}, {**tweet(), "id": "12ab"}, "junk"]}  # no meta

    page = parse_page(body, {})

    assert [t["id"] for t in page.tweets] == [TWEET_ID]
    assert page.newest_id == page.oldest_id == TWEET_ID
    assert len(page.malformed) == 3
    assert "invalid id (None, author_id='2001'" in page.malformed[0] and "'12ab'" in page.malformed[1]
    assert "not a tweet" in page.malformed[2]
