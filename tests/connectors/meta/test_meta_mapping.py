"""Pure parts of the Meta connectors: payload -> Post, watermarks, usage headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.meta.client import GraphErrorInfo, usage_percent
from connectors.meta.mapping import (
    ItemError,
    Parent,
    fb_comment_to_post,
    fb_rating_to_post,
    fb_story_to_post,
    ig_comment_to_post,
    ig_media_to_post,
    utf16_length,
)
from connectors.meta.state import Mark, MetaState, Watched
from watcher.core.post import PostKind

PAGE, IG = "1000", "1784"
POST = Parent("1000_1", "Our new card", "https://www.facebook.com/1000_1")
MEDIA = Parent("1790", "Autumn", "https://www.instagram.com/p/1790/")
AT = "2026-11-20T10:00:00+0000"


def fb(**fields: Any) -> dict[str, Any]:
    return {"id": "1_5", "message": "Card blocked", "created_time": AT, "from": {"id": "2001", "name": "Ana"}} | fields


def ig(**fields: Any) -> dict[str, Any]:
    return {"id": "1780", "text": "Quando?", "timestamp": AT, "from": {"id": "3001", "username": "gio"},
            "username": "gio"} | fields  # fmt: skip


FB_CASES = [
    ("a comment", fb(), {}, (PostKind.COMMENT, "1000_1", "Our new card", False, "Card blocked")),
    ("the Page's own", fb(**{"from": {"id": PAGE, "name": "Lumo"}}), {}, (PostKind.COMMENT, "1000_1", "Our new card", True, "Card blocked")),
    ("a reply in a thread", fb(parent={"id": "1_4"}), {"1_4": fb(id="1_4", message="first")}, (PostKind.COMMENT, "1_4", "first", False, "Card blocked")),
    ("a reply to the Page", fb(parent={"id": "1_4"}), {"1_4": fb(id="1_4", message="hi", **{"from": {"id": PAGE}})}, (PostKind.REPLY, "1_4", "hi", False, "Card blocked")),
    ("a photo only", fb(message="", attachment={"type": "photo"}), {}, (PostKind.COMMENT, "1000_1", "Our new card", False, "[photo without text]")),
]  # fmt: skip


@pytest.mark.parametrize(("item", "comments", "expected"), [c[1:] for c in FB_CASES], ids=[c[0] for c in FB_CASES])
def test_facebook_comments(item: dict[str, Any], comments: dict[str, Any], expected: tuple[Any, ...]) -> None:
    post = fb_comment_to_post(item, parent=POST, page_id=PAGE, source="fb", comments=comments)
    assert (post.kind, post.parent_id, post.parent_text, post.is_own, post.text) == expected
    assert post.conversation_id == "1000_1" and post.platform == "facebook" and post.created_at.tzinfo is UTC


def test_a_comment_without_its_author_is_anonymous_alone() -> None:
    one = fb_comment_to_post(fb(**{"from": None}), parent=POST, page_id=PAGE, source="fb", comments={})
    other = fb_comment_to_post(fb(id="1_6", **{"from": None}), parent=POST, page_id=PAGE, source="fb", comments={})
    assert one.author_key != other.author_key and not one.is_own


RATINGS = [
    ({"recommendation_type": "positive", "review_text": "Fast"}, "Recommends: Fast"),
    ({"recommendation_type": "negative"}, "Does not recommend"),
    ({"rating": 2, "review_text": "meh"}, "2 of 5 stars: meh"),
]


@pytest.mark.parametrize(("fields", "text"), RATINGS)
def test_facebook_ratings(fields: dict[str, Any], text: str) -> None:
    item = {"created_time": AT, "reviewer": {"id": "2001", "name": "Ana"}, "open_graph_story": {"id": "77"}} | fields
    post = fb_rating_to_post(item, page_id=PAGE, source="fb")
    assert (post.kind, post.native_id, post.text) == (PostKind.REVIEW, "77", text)


def test_stories_and_instagram_items() -> None:
    tagged = fb_story_to_post(fb(id="9_1", message="Paid with Lumo"), kind=PostKind.MENTION, page_id=PAGE, source="fb")
    assert tagged.kind == PostKind.MENTION and tagged.url == "https://www.facebook.com/9_1"
    comment = ig_comment_to_post(ig(), parent=MEDIA, account_id=IG, username="lumo", source="ig", comments={})
    assert (comment.kind, comment.parent_id, comment.url, comment.author.handle) == (
        PostKind.COMMENT, "1790", MEDIA.url, "gio")  # fmt: skip
    own = ig(id="1781", parent_id="1780", username="Lumo", **{"from": {"id": IG, "username": "Lumo"}})
    reply = ig_comment_to_post(own, parent=MEDIA, account_id=IG, username="lumo", source="ig", comments={"1780": ig()})
    assert reply.is_own and reply.parent_text == "Quando?"
    media = ig_media_to_post({"id": "1795", "caption": "Brunch", "timestamp": AT, "username": "ana", "comments_count": 2},
                             account_id=IG, username="lumo", source="ig")  # fmt: skip
    assert media.kind == PostKind.MENTION and media.metrics.replies == 2


BROKEN = [
    (fb(created_time=None), "created_time is missing"),
    (fb(created_time="yesterday"), "is not a time"),
    (fb(id=None), "id is missing"),
    (fb(like_count=-3), "like_count -3 is not a count"),
    (fb(message=["x"]), "message is not text"),
]


@pytest.mark.parametrize(("item", "error"), BROKEN)
def test_a_broken_item_names_its_field(item: dict[str, Any], error: str) -> None:
    with pytest.raises(ItemError, match=error):
        fb_comment_to_post(item, parent=POST, page_id=PAGE, source="fb", comments={})


USAGE = [
    ({}, 0.0, None),
    ({"x-app-usage": '{"call_count": 91, "total_time": 12, "total_cputime": 3}'}, 91.0, None),
    ({"x-business-use-case-usage": '{"1": [{"type": "pages", "call_count": 40, "estimated_time_to_regain_access": 7}]}'}, 40.0, 7),
    ({"x-app-usage": "not json"}, 0.0, None),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "percent", "minutes"), USAGE)
def test_usage_headers(headers: dict[str, str], percent: float, minutes: int | None) -> None:
    assert usage_percent(headers) == (percent, timedelta(minutes=minutes) if minutes else None)


def test_marks_and_the_state_survive_the_cursor() -> None:
    t = datetime(2026, 11, 20, 10, tzinfo=UTC)
    mark = Mark().advanced([(t, "a"), (t, "b"), (t - timedelta(seconds=1), "c")])
    assert (
        mark == Mark(t, ("a", "b"))
        and not mark.is_new(t, "a")
        and mark.is_new(t, "z")
        and mark.is_below(t - timedelta(1))
    )
    state = MetaState({"p": Watched(t, "x", mark, t)}, {"tags": mark}, t, {"ratings": t})
    assert MetaState.from_cursor(state.to_cursor()) == state
    assert utf16_length("a😀") == 3
    assert "fbtrace_id X" in str(GraphErrorInfo(400, 4, None, "limit", "X"))
