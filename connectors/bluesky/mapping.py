"""Bluesky XRPC payloads -> Post: pure functions, tested table-driven.

Two shapes arrive: a notification (listNotifications: `uri`, `cid`, `author`,
`reason`, `record`, `indexedAt`) and a post view (searchPosts, getPostThread: `uri`,
`cid`, `author`, `record`, counts, `indexedAt`). A post's native id is its AT URI;
`raw` keeps the payload, whose `cid` and `record.reply.root` a reply needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import regex

from watcher.core.post import Author, Metrics, Post, PostKind, parse_timestamp

BLUESKY = "bluesky"
MAX_GRAPHEMES = 300
POST_COLLECTION = "app.bsky.feed.post"
# notification reasons that are a post someone wrote to or about the brand
POST_REASONS = ("mention", "reply", "quote")
_GRAPHEME = regex.compile(r"\X")


class ItemError(ValueError):
    """A payload that cannot become a Post; the message names the field."""


@dataclass(frozen=True)
class Ref:
    """A strong reference: a record's AT URI and the CID of the version we saw."""

    uri: str
    cid: str


def grapheme_length(text: str) -> int:
    """Length as Bluesky counts its 300 limit: grapheme clusters (a family emoji is one)."""
    return len(_GRAPHEME.findall(text))


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ItemError(f"{what} is missing or not an object")
    return value


def _string(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ItemError(f"{key} is missing")
    return value


def _count(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def indexed_at(item: Mapping[str, Any]) -> datetime:
    """When the network saw it: the order listings come in, so the watermark's time."""
    value = _string(_object(item, "the item"), "indexedAt")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise ItemError(f"indexedAt {value!r} is not a time: {exc}") from None


def item_uri(item: Any) -> str:
    uri = _string(_object(item, "the item"), "uri")
    if not uri.startswith("at://"):
        raise ItemError(f"uri {uri!r} is not an AT URI")
    return uri


def rkey(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def web_url(uri: str, handle: str) -> str:
    """The bsky.app address of a post (a handle reads better than a DID there)."""
    return f"https://bsky.app/profile/{handle}/post/{rkey(uri)}"


def author_of(item: Mapping[str, Any]) -> Author:
    who = _object(item.get("author"), "author")
    did = _string(who, "did")
    handle = str(who.get("handle") or did)
    return Author(id=did, handle=handle, display_name=str(who.get("displayName") or ""))


def reply_refs(record: Mapping[str, Any]) -> tuple[Ref, Ref] | None:
    """The record's (root, parent) when it is a reply."""
    reply = record.get("reply")
    if not isinstance(reply, Mapping):
        return None
    try:
        root, parent = _object(reply.get("root"), "reply.root"), _object(reply.get("parent"), "reply.parent")
        return Ref(_string(root, "uri"), _string(root, "cid")), Ref(_string(parent, "uri"), _string(parent, "cid"))
    except ItemError:
        return None


def _post(item: Mapping[str, Any], *, kind: PostKind, brand_did: str, source: str) -> Post:
    uri = item_uri(item)
    _string(item, "cid")
    record = _object(item.get("record"), "record")
    text = record.get("text")
    if not isinstance(text, str):
        raise ItemError("record.text is missing")
    author = author_of(item)
    refs = reply_refs(record)
    langs = record.get("langs")
    lang = langs[0].split("-")[0].lower() if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    created = record.get("createdAt")
    try:
        at = parse_timestamp(created) if isinstance(created, str) and created else indexed_at(item)
    except ValueError:
        at = indexed_at(item)  # a client wrote a time we cannot read: when the network saw it
    is_own = author.id == brand_did
    if is_own:
        kind = PostKind.POST
    return Post(
        platform=BLUESKY,
        native_id=uri,
        kind=kind,
        text=text,
        created_at=min(at, indexed_at(item)),  # a post dated in the future is dated when it was seen
        author=author,
        url=web_url(uri, author.handle),
        lang=lang,
        parent_id=refs[1].uri if refs else None,
        conversation_id=refs[0].uri if refs else uri,
        metrics=Metrics(
            likes=_count(item, "likeCount"),
            reposts=_count(item, "repostCount") + _count(item, "quoteCount"),
            replies=_count(item, "replyCount"),
        ),
        is_own=is_own,
        source=source,
        raw=dict(item),
    )


def notification_to_post(item: Mapping[str, Any], *, brand_did: str, source: str) -> Post:
    """A mention, a reply to the brand or a quote of it."""
    reason = _object(item, "the notification").get("reason")
    if reason not in POST_REASONS:
        raise ItemError(f"reason {reason!r} is not a post")
    kind = PostKind.REPLY if reason == "reply" else PostKind.MENTION
    return _post(item, kind=kind, brand_did=brand_did, source=source)


def post_view_to_post(item: Any, *, brand_did: str, source: str) -> Post:
    """A search hit: a post that names the brand without tagging it."""
    return _post(_object(item, "the post"), kind=PostKind.MENTION, brand_did=brand_did, source=source)


def refs_for_reply(post: Post) -> tuple[Ref, Ref]:
    """(root, parent) for an answer to `post`: its thread's root, and the post itself."""
    cid = post.raw.get("cid")
    if not isinstance(cid, str) or not cid:
        raise ItemError(f"post {post.key} carries no cid")
    parent = Ref(post.native_id, cid)
    record = post.raw.get("record")
    refs = reply_refs(record) if isinstance(record, Mapping) else None
    return (refs[0] if refs else parent), parent
