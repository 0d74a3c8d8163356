"""Mastodon API payloads -> Post: pure functions, tested table-driven.

A status's `content` is HTML; the text the team reads is that HTML as plain text
(paragraphs and line breaks kept, links as their text), with the content warning
(`spoiler_text`) in front. Ids are the instance's own, compared as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.shared import html_text
from watcher.core.post import Author, Metrics, Post, PostKind, parse_timestamp

MASTODON = "mastodon"
DEFAULT_MAX_CHARACTERS = 500
URL_WEIGHT = 23  # Mastodon counts every link as 23 characters
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(@[\w.-]+)@[\w.-]+\.\w+")


class ItemError(ValueError):
    """A payload that cannot become a Post; the message names the field."""


def id_order(value: str) -> tuple[int, str]:
    """Ids sort as numbers (a longer id is newer), whatever their length."""
    return (len(value), value)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ItemError(f"{what} is missing or not an object")
    return value


def status_id(item: Any) -> str:
    value = _object(item, "the status").get("id")
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value):
        raise ItemError(f"id is missing ({value!r})")
    return str(value)


def created_of(item: Mapping[str, Any]) -> datetime:
    value = item.get("created_at")
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value  # Mastodon.py parses it already
    if not isinstance(value, str) or not value:
        raise ItemError("created_at is missing")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ItemError(f"created_at {value!r} is not a time: {exc}") from None


def _count(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def status_to_post(item: Any, *, account_id: str, source: str, kind: PostKind = PostKind.MENTION) -> Post:
    """A status that mentions the brand (a REPLY when it answers the brand), a hashtag or
    search hit (MENTION), or the brand's own (POST)."""
    native = status_id(item)
    status = _object(item, "the status")
    if status.get("reblog"):
        raise ItemError("a boost, not a post")
    content = status.get("content")
    if not isinstance(content, str):
        raise ItemError("content is missing")
    who = _object(status.get("account"), "account")
    author_id = who.get("id")
    if not author_id:
        raise ItemError("account.id is missing")
    acct = str(who.get("acct") or who.get("username") or author_id)
    author = Author(id=str(author_id), handle=acct, display_name=str(who.get("display_name") or ""),
                    followers=_count(who, "followers_count"))  # fmt: skip
    text = html_text(content)
    warning = status.get("spoiler_text")
    if isinstance(warning, str) and warning:
        text = f"[CW: {warning}] {text}"
    parent = status.get("in_reply_to_id")
    is_own = str(author_id) == account_id
    if is_own:
        kind = PostKind.POST
    elif parent and str(status.get("in_reply_to_account_id") or "") == account_id:
        kind = PostKind.REPLY
    language = status.get("language")
    return Post(
        platform=MASTODON,
        native_id=native,
        kind=kind,
        text=text,
        created_at=created_of(status),
        author=author,
        url=str(status.get("url") or status.get("uri") or ""),
        lang=language.split("-")[0].lower() if isinstance(language, str) and language else None,
        parent_id=str(parent) if parent else None,
        conversation_id=str(parent) if parent else native,
        metrics=Metrics(
            likes=_count(status, "favourites_count"),
            reposts=_count(status, "reblogs_count"),
            replies=_count(status, "replies_count"),
        ),  # fmt: skip
        is_own=is_own,
        source=source,
        raw=_plain(status),
    )


def _plain(value: Any) -> Any:
    """The payload as JSON can store it (Mastodon.py gives datetimes and its dict type)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def mastodon_length(text: str) -> int:
    """Length as Mastodon counts it: a link is 23 characters, a mention counts only its
    username (not the domain)."""
    return len(local_mentions(_URL.sub("x" * URL_WEIGHT, text)))


def local_mentions(text: str) -> str:
    """`text` with each @user@domain as @user, as Mastodon shows and counts it."""
    return _MENTION.sub(r"\1", text)


def with_mention(text: str, acct: str) -> str:
    """Start the reply with @acct (as Mastodon's apps do), so its author is notified."""
    handle = f"@{acct}"
    return text if handle.casefold() in text.casefold() else f"{handle} {text}"
