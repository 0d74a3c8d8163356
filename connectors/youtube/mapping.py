"""YouTube Data API v3 payloads -> Post: pure functions, tested table-driven.

A commentThread carries its top-level comment and some of its replies; a comment's
text is read as `textDisplay` with `textFormat=plainText` (`textOriginal` is shown
only to the comment's author). A reply's `parentId` is its thread's id: YouTube keeps
one level of replies, and an answer to a reply goes under the thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watcher.core.post import Author, Metrics, Post, PostKind, parse_timestamp

YOUTUBE = "youtube"
MAX_REPLY_LENGTH = 10_000


class ItemError(ValueError):
    """A payload that cannot become a Post; the message names the field."""


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ItemError(f"{what} is missing or not an object")
    return value


def comment_id(item: Any) -> str:
    value = _object(item, "the comment").get("id")
    if not isinstance(value, str) or not value:
        raise ItemError(f"id is missing ({value!r})")
    return value


def published_at(item: Mapping[str, Any]) -> datetime:
    value = _object(item.get("snippet"), "snippet").get("publishedAt")
    if not isinstance(value, str) or not value:
        raise ItemError("snippet.publishedAt is missing")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ItemError(f"snippet.publishedAt {value!r} is not a time: {exc}") from None


def top_comment(thread: Any) -> Mapping[str, Any]:
    return _object(_object(_object(thread, "the thread").get("snippet"), "snippet").get("topLevelComment"),
                   "snippet.topLevelComment")  # fmt: skip


def reply_count(thread: Mapping[str, Any]) -> int:
    value = _object(thread.get("snippet"), "snippet").get("totalReplyCount")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def included_replies(thread: Mapping[str, Any]) -> list[Any]:
    replies = thread.get("replies")
    comments = replies.get("comments") if isinstance(replies, Mapping) else None
    return comments if isinstance(comments, list) else []


def author_channel(snippet: Mapping[str, Any]) -> str:
    who = snippet.get("authorChannelId")
    value = who.get("value") if isinstance(who, Mapping) else who
    return str(value) if value else ""


def comment_url(video_id: str, native_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}&lc={native_id}"


def comment_to_post(
    item: Mapping[str, Any],
    *,
    channel_id: str,
    source: str,
    thread_id: str | None = None,
    thread_text: str = "",
    thread_is_own: bool = False,
) -> Post:
    """A top-level comment (no `thread_id`) or a reply in thread `thread_id`; a reply
    under the channel's own comment is a REPLY, other replies are COMMENTs in the thread."""
    native = comment_id(item)
    snippet = _object(item.get("snippet"), "snippet")
    text = snippet.get("textDisplay")
    if not isinstance(text, str):
        raise ItemError("snippet.textDisplay is missing")
    video = snippet.get("videoId")
    if not isinstance(video, str) or not video:
        raise ItemError("snippet.videoId is missing")
    who = author_channel(snippet)
    name = str(snippet.get("authorDisplayName") or who or "YouTube user")
    author = Author(id=who or f"unknown:{native}", handle=name.lstrip("@"), display_name=name)
    is_own = bool(who) and who == channel_id
    if thread_id is None:
        kind, parent_id, conversation = PostKind.COMMENT, video, native
    else:
        kind = PostKind.REPLY if thread_is_own else PostKind.COMMENT
        parent_id, conversation = thread_id, thread_id
    likes = snippet.get("likeCount")
    return Post(
        platform=YOUTUBE,
        native_id=native,
        kind=PostKind.POST if is_own else kind,
        text=text,
        created_at=published_at(item),
        author=author,
        url=comment_url(video, native),
        parent_id=parent_id,
        conversation_id=conversation,
        parent_text=thread_text or None,
        metrics=Metrics(likes=likes if isinstance(likes, int) and likes > 0 else 0),
        is_own=is_own,
        source=source,
        raw=dict(item),
    )


def reply_target(post: Post) -> str:
    """Where an answer goes: under the thread (its top-level comment's id)."""
    return post.conversation_id or post.native_id
