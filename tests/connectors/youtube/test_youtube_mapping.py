"""YouTube payloads -> Post (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.youtube.mapping import ItemError, comment_to_post, reply_target
from watcher.core.post import PostKind

CHANNEL = "UCLumoBank00000000000001"


def comment(**snippet: Any) -> dict[str, Any]:
    base = {"videoId": "vid1", "textDisplay": "Card blocked", "authorDisplayName": "@ana",
            "authorChannelId": {"value": "UCana"}, "likeCount": 3, "publishedAt": "2026-11-20T10:00:00Z"}  # fmt: skip
    return {"kind": "youtube#comment", "id": "Ugx1", "snippet": base | snippet}


CASES = [
    ("a top-level comment", comment(), {}, (PostKind.COMMENT, "vid1", "Ugx1", False, "ana")),
    ("a reply in a thread", comment(parentId="Ugx0"), {"thread_id": "Ugx0", "thread_text": "q"},
     (PostKind.COMMENT, "Ugx0", "Ugx0", False, "ana")),
    ("a reply to the channel", comment(parentId="Ugx0"), {"thread_id": "Ugx0", "thread_is_own": True},
     (PostKind.REPLY, "Ugx0", "Ugx0", False, "ana")),
    ("the channel's own", comment(authorChannelId={"value": CHANNEL}), {}, (PostKind.POST, "vid1", "Ugx1", True, "ana")),
    ("no author channel", comment(authorChannelId=None, authorDisplayName=""), {},
     (PostKind.COMMENT, "vid1", "Ugx1", False, "YouTube user")),
]  # fmt: skip


@pytest.mark.parametrize(("item", "extra", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_comments(item: dict[str, Any], extra: dict[str, Any], expected: tuple[Any, ...]) -> None:
    post = comment_to_post(item, channel_id=CHANNEL, source="yt", **extra)
    assert (post.kind, post.parent_id, post.conversation_id, post.is_own, post.author.handle) == expected
    assert post.url == "https://www.youtube.com/watch?v=vid1&lc=Ugx1" and post.metrics.likes == 3
    assert reply_target(post) == post.conversation_id


BAD = [
    ("no id", {"id": None, "snippet": comment()["snippet"]}, "id is missing"),
    ("no snippet", {"id": "Ugx1"}, "snippet is missing"),
    ("no text", comment(textDisplay=None), "textDisplay"),
    ("no video", comment(videoId=""), "videoId"),
    ("a bad time", comment(publishedAt="yesterday"), "publishedAt"),
]


@pytest.mark.parametrize(("item", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_malformed_comments_name_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ItemError, match=message):
        comment_to_post(item, channel_id=CHANNEL, source="yt")
