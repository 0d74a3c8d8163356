"""Hacker News Algolia hits -> Post: pure functions, tested table-driven.

A hit is a story (`title`, `url`, `story_text`) or a comment (`comment_text` in HTML,
`parent_id`, `story_id`, `story_title`); `created_at_i` is its time in epoch seconds,
the field the watermark and `numericFilters` use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.shared import html_text
from watcher.core.post import Author, Metrics, Post, PostKind

HACKERNEWS = "hackernews"
ITEM_URL = "https://news.ycombinator.com/item?id={}"


class ItemError(ValueError):
    """A hit that cannot become a Post; the message names the field."""


def hit_id(hit: Any) -> str:
    if not isinstance(hit, Mapping):
        raise ItemError(f"expected a JSON object, got {type(hit).__name__}")
    value = hit.get("objectID")
    if not isinstance(value, str) or not value.isdigit():
        raise ItemError(f"objectID is missing or not an item id ({value!r})")
    return value


def hit_time(hit: Mapping[str, Any]) -> datetime:
    value = hit.get("created_at_i")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ItemError(f"created_at_i is missing or not a time ({value!r})")
    return datetime.fromtimestamp(value, UTC)


def _tags(hit: Mapping[str, Any]) -> list[str]:
    tags = hit.get("_tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def hit_to_post(hit: Mapping[str, Any], *, source: str, brand_account: str = "") -> Post:
    """A story or a comment that names the brand (a MENTION; the brand account's own is a POST)."""
    native = hit_id(hit)
    author = hit.get("author")
    if not isinstance(author, str) or not author:
        raise ItemError("author is missing")
    is_comment = "comment" in _tags(hit) or hit.get("comment_text") is not None
    if is_comment:
        text = html_text(str(hit.get("comment_text") or ""))
        story = hit.get("story_id")
        parent = hit.get("parent_id")
        conversation = str(story) if story else native
        parent_id, parent_text = (str(parent) if parent else None), str(hit.get("story_title") or "") or None
    else:
        title = hit.get("title")
        if not isinstance(title, str) or not title:
            raise ItemError("title is missing")
        body = html_text(str(hit.get("story_text") or ""))
        link = str(hit.get("url") or "")
        text = "\n\n".join(part for part in (title, link, body) if part)
        conversation, parent_id, parent_text = native, None, None
    if not text:
        raise ItemError("comment_text is missing")
    is_own = bool(brand_account) and author.casefold() == brand_account.casefold()
    points, comments = hit.get("points"), hit.get("num_comments")
    return Post(
        platform=HACKERNEWS,
        native_id=native,
        kind=PostKind.POST if is_own else PostKind.MENTION,
        text=text,
        created_at=hit_time(hit),
        author=Author(id=author, handle=author),
        url=ITEM_URL.format(native),
        lang=None,  # HN has no language field; triage detects it
        parent_id=parent_id,
        conversation_id=conversation,
        parent_text=parent_text,
        metrics=Metrics(
            likes=points if isinstance(points, int) and points > 0 else 0,
            replies=comments if isinstance(comments, int) and comments > 0 else 0,
        ),  # fmt: skip
        is_own=is_own,
        source=source,
        raw=dict(hit),
    )
