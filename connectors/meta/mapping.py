"""Graph payloads -> Post: pure functions, one per kind of item.

Facebook: comments and replies (flat, from `filter=stream`), visitor posts and posts
that tag the Page, and ratings (recommendations). Instagram: comments with their
nested replies, and media that tag the account. A comment carries the post or media
it is under (`Parent`) so the card can show it; a reply carries its comment's text.
An item that cannot become a Post raises ItemError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.post import Author, Metrics, Post, PostKind, normalized_text, parse_timestamp

FACEBOOK = "facebook"
INSTAGRAM = "instagram"


class ItemError(ValueError):
    """A Graph item that cannot become a Post; the message names the field."""


@dataclass(frozen=True)
class Parent:
    """The post or media a comment is under, as its listing gave it."""

    id: str
    text: str
    url: str


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when Graph sent an object there, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def item_id(item: Any) -> str:
    if not isinstance(item, Mapping):
        raise ItemError(f"expected a JSON object, got {type(item).__name__}")
    value = item.get("id")
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ItemError(f"id is missing or not an id ({value!r})")
    return str(value)


def created_of(item: Mapping[str, Any], key: str = "created_time") -> datetime:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ItemError(f"{key} is missing")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ItemError(f"{key} {value!r} is not a time: {exc}") from None


def _count(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 10**12:
        raise ItemError(f"{key} {value!r} is not a count")
    return value


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{key} is not text ({type(value).__name__})")
    return value


def _attachment_note(item: Mapping[str, Any]) -> str:
    """A comment of only a photo, sticker or GIF has no message: say what it is, so the
    team sees it (a photo of a broken card needs an answer too)."""
    attachment = item.get("attachment")
    kind = attachment.get("type") if isinstance(attachment, Mapping) else None
    return f"[{kind or 'attachment'} without text]" if attachment else ""


def fb_author(item: Mapping[str, Any], item_key: str) -> Author:
    """Facebook shows a commenter's name and app-scoped id (with a Page token); without
    `from` the author is anonymous to us, one of their own so unrelated people are not merged."""
    who = item.get("from")
    if not isinstance(who, Mapping) or not who.get("id"):
        return Author(id=f"unknown:{item_key}", handle="Facebook user")
    name = str(who.get("name") or who["id"])
    return Author(id=str(who["id"]), handle=name, display_name=name)


def fb_comment_to_post(
    item: Mapping[str, Any],
    *,
    parent: Parent,
    page_id: str,
    source: str,
    comments: Mapping[str, Mapping[str, Any]],
) -> Post:
    """A comment or a reply to a comment (its `parent` field) under a Page post.
    `comments` holds the comments of the same read, to give a reply its comment's text."""
    native = item_id(item)
    author = fb_author(item, native)
    above = item.get("parent")
    above_id = str(above.get("id")) if isinstance(above, Mapping) and above.get("id") else None
    kind, parent_id, parent_text = PostKind.COMMENT, parent.id, parent.text
    if above_id:
        parent_id = above_id
        above_item = comments.get(above_id)
        if above_item is not None:
            parent_text = _text(above_item, "message")
            if fb_author(above_item, above_id).id == page_id:
                kind = PostKind.REPLY  # someone answered the Page's own reply
    return Post(
        platform=FACEBOOK,
        native_id=native,
        kind=kind,
        text=_text(item, "message") or _attachment_note(item),
        created_at=created_of(item),
        author=author,
        url=_text(item, "permalink_url") or f"https://www.facebook.com/{native}",
        parent_id=parent_id,
        conversation_id=parent.id,
        parent_text=parent_text or None,
        metrics=Metrics(likes=_count(item, "like_count"), replies=_count(item, "comment_count")),
        is_own=author.id == page_id,
        source=source,
        raw=dict(item),
    )


def fb_story_to_post(item: Mapping[str, Any], *, kind: PostKind, page_id: str, source: str) -> Post:
    """A visitor post on the Page (POST) or a post elsewhere that tags it (MENTION)."""
    native = item_id(item)
    author = fb_author(item, native)
    return Post(
        platform=FACEBOOK,
        native_id=native,
        kind=kind,
        text=_text(item, "message") or _text(item, "story") or _attachment_note(item),
        created_at=created_of(item),
        author=author,
        url=_text(item, "permalink_url") or f"https://www.facebook.com/{native}",
        conversation_id=native,
        is_own=author.id == page_id,
        source=source,
        raw=dict(item),
    )


def rating_id(item: Mapping[str, Any]) -> str:
    """A rating has no id of its own; its story has, and the Page answers it there."""
    story = item.get("open_graph_story")
    if isinstance(story, Mapping) and story.get("id"):
        return str(story["id"])
    who = item.get("reviewer")
    if isinstance(who, Mapping) and who.get("id") and item.get("created_time"):
        return f"rating-{who['id']}-{created_of(item):%Y%m%d%H%M%S}"
    raise ItemError("neither open_graph_story.id nor reviewer.id is given")


def fb_rating_to_post(item: Mapping[str, Any], *, page_id: str, source: str) -> Post:
    """A recommendation (positive or negative) or a legacy star rating, with its text.
    The verdict leads the text, so triage and the card see it even without words."""
    if not isinstance(item, Mapping):
        raise ItemError(f"expected a JSON object, got {type(item).__name__}")
    native = rating_id(item)
    who = item.get("reviewer")
    author = (
        Author(id=str(who["id"]), handle=str(who.get("name") or who["id"]), display_name=str(who.get("name") or ""))
        if isinstance(who, Mapping) and who.get("id")
        else Author(id=f"unknown:{native}", handle="Facebook user")
    )
    verdict = {"positive": "Recommends", "negative": "Does not recommend"}.get(_text(item, "recommendation_type"))
    if verdict is None and item.get("rating") is not None:
        verdict = f"{_count(item, 'rating')} of 5 stars"
    review = _text(item, "review_text")
    text = f"{verdict}: {review}" if verdict and review else (review or verdict or "(a rating without text)")
    return Post(
        platform=FACEBOOK,
        native_id=native,
        kind=PostKind.REVIEW,
        text=text,
        created_at=created_of(item),
        author=author,
        url=f"https://www.facebook.com/{native}" if not native.startswith("rating-") else "",
        conversation_id=native,
        is_own=author.id == page_id,
        source=source,
        raw=dict(item),
    )


def ig_author(item: Mapping[str, Any], item_key: str) -> Author:
    who = item.get("from")
    username = str(item.get("username") or (who.get("username") if isinstance(who, Mapping) else "") or "")
    user_id = str(who.get("id")) if isinstance(who, Mapping) and who.get("id") else ""
    if not username and not user_id:
        return Author(id=f"unknown:{item_key}", handle="Instagram user")
    return Author(id=user_id or username, handle=username or user_id)


def is_own_ig(author: Author, account_id: str, username: str) -> bool:
    return author.id == account_id or (bool(username) and author.handle.casefold() == username.casefold())


def ig_comment_to_post(
    item: Mapping[str, Any],
    *,
    parent: Parent,
    account_id: str,
    username: str,
    source: str,
    comments: Mapping[str, Mapping[str, Any]],
) -> Post:
    """A comment on the account's media, or a reply to one (its `parent_id`)."""
    native = item_id(item)
    author = ig_author(item, native)
    above_id = str(item["parent_id"]) if item.get("parent_id") else None
    kind, parent_id, parent_text = PostKind.COMMENT, parent.id, parent.text
    if above_id:
        parent_id = above_id
        above_item = comments.get(above_id)
        if above_item is not None:
            parent_text = _text(above_item, "text")
            if is_own_ig(ig_author(above_item, above_id), account_id, username):
                kind = PostKind.REPLY
    return Post(
        platform=INSTAGRAM,
        native_id=native,
        kind=kind,
        text=_text(item, "text"),
        created_at=created_of(item, "timestamp"),
        author=author,
        url=parent.url,  # Instagram gives comments no link of their own
        parent_id=parent_id,
        conversation_id=parent.id,
        parent_text=parent_text or None,
        metrics=Metrics(likes=_count(item, "like_count")),
        is_own=is_own_ig(author, account_id, username),
        source=source,
        raw=dict(item),
    )


def ig_media_to_post(item: Mapping[str, Any], *, account_id: str, username: str, source: str) -> Post:
    """A media of someone else that tags the account (MENTION)."""
    native = item_id(item)
    author = ig_author(item, native)
    return Post(
        platform=INSTAGRAM,
        native_id=native,
        kind=PostKind.MENTION,
        text=_text(item, "caption"),
        created_at=created_of(item, "timestamp"),
        author=author,
        url=_text(item, "permalink"),
        conversation_id=native,
        metrics=Metrics(likes=_count(item, "like_count"), replies=_count(item, "comments_count")),
        is_own=is_own_ig(author, account_id, username),
        source=source,
        raw=dict(item),
    )


def utf16_length(text: str) -> int:
    """Length as Meta counts it for limits: UTF-16 code units (an emoji is often two)."""
    return len(text.encode("utf-16-le")) // 2


def same_text(a: str, b: str) -> bool:
    """Our words and the platform's copy of them are the same reply (Meta may trim spaces
    or change a quote mark)."""
    return normalized_text(a) == normalized_text(b)
