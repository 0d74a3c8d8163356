"""Pure parts of the Reddit connector: payload -> Post, filters, cursor boundaries."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.reddit.mapping import (
    MAX_REPORTED,
    MAX_SEEN,
    Boundary,
    Passed,
    StreamState,
    advance,
    build_streams,
    comment_to_post,
    is_gone,
    item_label,
    malformed,
    matches_terms,
    passing,
    permalink_url,
    same_text,
    search_query,
    submission_to_post,
)
from watcher.core.post import PostKind

CREATED = 1_763_600_000.0


def t3(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t3_abc",
        "id": "abc",
        "title": "Card declined",
        "selftext": "Twice today, in Rome.",
        "is_self": True,
        "author": "ann",
        "author_fullname": "t2_ann",
        "subreddit": "LumoBank",
        "created_utc": CREATED,
        "permalink": "/r/LumoBank/comments/abc/card_declined/",
        "url": "https://www.reddit.com/r/LumoBank/comments/abc/card_declined/",
        "score": 5,
        "num_comments": 3,
        "num_crossposts": 1,
        "removed_by_category": None,
    }
    data.update(fields)
    return data


def t1(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t1_def",
        "id": "def",
        "body": "same here",
        "author": "bob",
        "author_fullname": "t2_bob",
        "parent_id": "t3_abc",
        "link_id": "t3_abc",
        "link_title": "Card declined",
        "subreddit": "LumoBank",
        "created_utc": CREATED + 60,
        "permalink": "/r/LumoBank/comments/abc/card_declined/def/",
        "score": 2,
    }
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "Card declined\n\nTwice today, in Rome."),
        ({"selftext": ""}, "Card declined"),
        ({"selftext": "[removed]"}, "Card declined"),
        ({"selftext": "[deleted]"}, "Card declined"),
        (
            {"is_self": False, "selftext": "", "url": "https://i.redd.it/x.png"},
            "Card declined\n\nhttps://i.redd.it/x.png",
        ),
    ],
)
def test_submission_text_is_title_and_body(fields: dict[str, Any], text: str) -> None:
    assert submission_to_post(t3(**fields)).text == text


def test_submission_fields() -> None:
    post = submission_to_post(t3(), source="brand", karma={"t2_ann": 1500})
    assert post.key == "reddit:t3_abc" and post.kind == PostKind.POST and post.source == "brand"
    assert post.created_at == datetime.fromtimestamp(CREATED, UTC)
    assert post.url == "https://www.reddit.com/r/LumoBank/comments/abc/card_declined/"
    assert (post.metrics.likes, post.metrics.reposts, post.metrics.replies) == (5, 1, 3)
    assert post.author.id == "t2_ann" and post.author.handle == "ann" and post.author.followers == 1500
    assert post.raw["subreddit"] == "LumoBank" and post.raw["author_karma"] == 1500
    assert post.conversation_id == "t3_abc" and not post.is_own
    json.dumps(dict(post.raw))  # storable


@pytest.mark.parametrize(
    ("author", "brand", "own"),
    [("LumoSupport", "LumoSupport", True), ("lumosupport", "u/LumoSupport", True), ("ann", "LumoSupport", False),
     ("LumoSupport", None, False)],
)  # fmt: skip
def test_is_own_when_the_author_is_the_brand_account(author: str, brand: str | None, own: bool) -> None:
    assert submission_to_post(t3(author=author), brand_account=brand).is_own is own
    assert comment_to_post(t1(author=author), brand_account=brand).is_own is own


def test_deleted_authors_get_a_per_post_identity() -> None:
    first = comment_to_post(t1(author="[deleted]", author_fullname=None))
    second = comment_to_post(t1(name="t1_xyz", author="[deleted]", author_fullname=None))
    assert first.author.handle == second.author.handle == "[deleted]"
    assert first.author_key != second.author_key  # strangers are not merged into one history


@pytest.mark.parametrize(
    ("fields", "parent_text", "expected"),
    [
        ({}, None, "Card declined"),  # top-level: the submission's title
        ({"parent_id": "t1_zzz"}, None, None),  # a reply whose parent was not fetched
        ({"parent_id": "t1_zzz"}, "we are on it", "we are on it"),
        ({"link_title": "[deleted]"}, None, None),
    ],
)
def test_comment_parent_context(fields: dict[str, Any], parent_text: str | None, expected: str | None) -> None:
    assert comment_to_post(t1(**fields), parent_text=parent_text).parent_text == expected


def test_comment_fields_and_inbox_context_url() -> None:
    post = comment_to_post(t1(), kind=PostKind.REPLY)
    assert post.kind == PostKind.REPLY and post.text == "same here"
    assert post.parent_id == "t3_abc" and post.conversation_id == "t3_abc"
    inbox = t1(permalink=None, context="/r/LumoBank/comments/abc/card_declined/def/?context=3")
    assert comment_to_post(inbox).url == "https://www.reddit.com/r/LumoBank/comments/abc/card_declined/def/"
    assert comment_to_post(t1(body="[deleted]")).text == ""


@pytest.mark.parametrize(
    ("data", "url"),
    [
        ({"permalink": "/r/a/comments/x/t/"}, "https://www.reddit.com/r/a/comments/x/t/"),
        ({"context": "/r/a/comments/x/t/y/?context=3"}, "https://www.reddit.com/r/a/comments/x/t/y/"),
        ({"link_id": "t3_x", "id": "y", "subreddit": "a"}, "https://www.reddit.com/r/a/comments/x/_/y/"),
        ({}, ""),
    ],
)
def test_permalink_url(data: dict[str, Any], url: str) -> None:
    assert permalink_url(data) == url


@pytest.mark.parametrize(
    ("data", "gone"),
    [
        (t1(), False),
        (t1(body="[deleted]"), True),
        (t1(body="[removed]"), True),
        (t1(author="[deleted]"), False),  # the words are still there
        (t3(), False),
        (t3(removed_by_category="moderator"), True),
        (t3(removed_by_category="deleted", selftext="[deleted]"), True),
        (t3(selftext="[removed]"), False),  # the title is still readable
    ],
)
def test_is_gone(data: dict[str, Any], gone: bool) -> None:
    assert is_gone(data) is gone


@pytest.mark.parametrize(
    ("text", "terms", "hit"),
    [
        ("Lumo's app froze", ("lumo",), True),
        ("LUMO bank is down", ("Lumo Bank",), True),
        ("lumosity is a game", ("lumo",), False),
        ("Lumò app", ("lumo",), True),
        ("nothing here", ("lumo", "lumo bank"), False),
        ("anything", (), False),
    ],
)
def test_matches_terms_on_whole_words(text: str, terms: tuple[str, ...], hit: bool) -> None:
    assert matches_terms(text, terms) is hit


def test_search_query_and_same_text() -> None:
    assert search_query(["Lumo", "Lumo Bank"]) == '"Lumo" OR "Lumo Bank"'
    assert same_text("Hi  there\n", "Hi there") and not same_text("Hi there", "Hi there!")


def item(name: str, offset: float) -> dict[str, Any]:
    return {"name": name, "created_utc": CREATED + offset}


def test_boundary_without_lookback_covers_older_and_seen_at_the_same_second() -> None:
    boundary = advance(None, [item("t3_a", 0)], lookback=0)
    assert boundary == Boundary(CREATED, {"t3_a": CREATED}, 0.0)
    assert boundary.covers(item("t3_old", -1)) and boundary.below(item("t3_old", -1))
    assert boundary.covers(item("t3_a", 0))
    assert not boundary.covers(item("t3_b", 0))  # same second, not seen: new
    assert not boundary.covers(item("t3_new", 1))


def test_boundary_with_lookback_catches_late_items_once() -> None:
    boundary = advance(None, [item("t3_a", 0), item("t3_b", 500), item("t3_c", 1000)], lookback=600)
    assert boundary is not None and boundary.floor == CREATED + 400
    assert set(boundary.seen) == {"t3_b", "t3_c"}  # t3_a is below the floor: forgotten, still covered
    assert boundary.covers(item("t3_a", 0)) and boundary.covers(item("t3_b", 500))
    late = item("t3_late", 450)  # created earlier, showed up now (search index, spam filter)
    assert not boundary.covers(late)
    after = advance(boundary, [late], lookback=600)
    assert after is not None and after.covers(late) and after.created == CREATED + 1000


def test_advance_keeps_the_newest_time_and_bounds_the_memory() -> None:
    previous = Boundary(CREATED + 50, {"t3_x": CREATED + 50}, 0.0)
    assert advance(previous, [], lookback=0) == previous
    assert advance(None, [], lookback=60) is None
    many = [item(f"t3_{i}", i) for i in range(MAX_SEEN + 10)]
    bounded = advance(None, many, lookback=10_000)
    assert bounded is not None and len(bounded.seen) == MAX_SEEN
    assert all(bounded.covers(d) for d in many)  # what was forgotten is below the raised floor


def test_stream_state_json_roundtrip() -> None:
    top = Boundary(CREATED, {"t3_a": CREATED}, 600.0)
    state = StreamState(top=top, gap_after="t3_x", gap_floor=Boundary(CREATED - 99))
    assert StreamState.from_json(json.loads(json.dumps(state.to_json()))) == state
    assert StreamState.from_json(None) == StreamState()


def test_stream_state_keeps_the_gap_mark_and_the_reported_items() -> None:
    mark = Passed(CREATED, frozenset({"t3_a", "t3_b"}))
    reported = tuple(f"t3_{i}" for i in range(MAX_REPORTED + 5))
    state = StreamState(gap_after="t3_a", gap_floor=Boundary(CREATED - 99), gap_passed=mark, reported=reported)
    back = StreamState.from_json(json.loads(json.dumps(state.to_json())))
    assert back.gap_passed == mark and back.reported == reported[-MAX_REPORTED:]
    older = {"gap": {"after": "t3_a", "floor": {"created": CREATED}}}  # a cursor written before the mark existed
    assert StreamState.from_json(older).gap_passed is None


def test_passing_marks_how_far_a_newest_first_walk_went() -> None:
    mark = passing(None, t3(name="t3_a", created_utc=CREATED + 10))
    mark = passing(mark, t3(name="t3_b", created_utc=CREATED))
    mark = passing(mark, t3(name="t3_c", created_utc=CREATED))
    assert mark == Passed(CREATED, frozenset({"t3_b", "t3_c"}))
    assert passing(mark, t3(name="t3_a", created_utc=CREATED + 10)) == mark  # walked again from the top
    assert mark.covers(t3(name="t3_a", created_utc=CREATED + 10)) and mark.covers(t3(name="t3_c", created_utc=CREATED))
    assert not mark.covers(t3(name="t3_d", created_utc=CREATED)) and not mark.covers(t3(created_utc=CREATED - 1))


@pytest.mark.parametrize(
    ("fields", "kind", "wrong", "label"),
    [
        ({}, "t3", "", "t3_abc"),
        ({"created_utc": 1_763_600_000}, "t3", "", "t3_abc"),
        ({"created_utc": None}, "t3", "its created_utc is None, not a time in epoch seconds", "t3_abc"),
        ({"created_utc": True}, "t3", "its created_utc is True, not a time in epoch seconds", "t3_abc"),
        ({"created_utc": float("inf")}, "t3", "its created_utc is inf, not a time in epoch seconds", "t3_abc"),
        ({"created_utc": -1e18}, "t3", "its created_utc -1e+18 is not a possible time", "t3_abc"),
        ({"name": "t3_"}, "t3", "its name is 't3_', not a Reddit fullname like t3_abc123", "t3_abc"),
        ({"name": 7, "id": None}, "t3", "its name is 7, not a Reddit fullname like t3_abc123", ""),
        ({"name": "t3_abc"}, "t1", "its name is 't3_abc', not a Reddit fullname like t1_abc123", "t1_abc"),
        ({"name": "x" * 60, "id": "../x"}, "t3", f"its name is '{'x' * 36}..., not a Reddit fullname like "
                                                 f"t3_abc123", ""),
    ],
)  # fmt: skip
def test_malformed_items_say_what_is_wrong(fields: dict[str, Any], kind: str, wrong: str, label: str) -> None:
    data = {**t3(), **fields}
    assert malformed(data, kind) == wrong
    assert item_label(data, kind) == label


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        ({"mode": "subreddit", "subreddits": ("A", "B")}, ["new:a", "comments:a", "new:b", "comments:b"]),
        ({"mode": "subreddit", "subreddits": ("A",), "include_comments": False}, ["new:a"]),
        ({"mode": "search", "terms": ("Lumo",), "include_comments": False}, ["search:all"]),
        ({"mode": "search", "terms": ("Lumo",), "subreddits": ("A",)}, ["search:a", "comments:a"]),
        ({"mode": "inbox"}, ["comment_replies", "post_replies", "mentions"]),
        ({"mode": "inbox", "include_replies": False}, ["mentions"]),
    ],
)
def test_build_streams(options: dict[str, Any], keys: list[str]) -> None:
    assert [s.key for s in build_streams(**options)] == keys


def test_search_streams_carry_the_query_and_comment_terms() -> None:
    search, comments = build_streams(mode="search", terms=("Lumo",), subreddits=("Banking",))
    assert search.path == "r/Banking/search" and search.params["q"] == '"Lumo"' and search.params["restrict_sr"] == "on"
    assert comments.path == "r/Banking/comments" and comments.terms == ("Lumo",)
    (custom,) = build_streams(mode="search", terms=("Lumo",), query="lumo NOT lumosity", include_comments=False)
    assert custom.params["q"] == "lumo NOT lumosity"


def test_stream_state_keeps_that_a_gap_was_walked_again_and_where_it_stood() -> None:
    mark = Passed(CREATED, frozenset({"t3_a"}))
    state = StreamState(
        gap_after="t3_c", gap_floor=Boundary(CREATED - 99), gap_passed=mark, gap_rewalked=True, gap_stood=mark
    )
    assert StreamState.from_json(json.loads(json.dumps(state.to_json()))) == state
    unknown = replace(state, gap_passed=None, gap_stood=None)  # walked again from a cursor without a mark
    assert StreamState.from_json(json.loads(json.dumps(unknown.to_json()))) == unknown
    assert not StreamState.from_json({"gap": {"after": "t3_a", "floor": {"created": CREATED}}}).gap_rewalked
