"""Pure parts of the Bluesky connector: payload -> Post, reply references, graphemes."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.bluesky.mapping import (
    ItemError,
    Ref,
    grapheme_length,
    notification_to_post,
    post_view_to_post,
    refs_for_reply,
)
from watcher.core.post import PostKind

BRAND = "did:plc:brand"
URI = "at://did:plc:ana/app.bsky.feed.post/3kabc"
ROOT = {"uri": "at://did:plc:brand/app.bsky.feed.post/3kroot", "cid": "bafyroot"}
PARENT = {"uri": "at://did:plc:gio/app.bsky.feed.post/3kpar", "cid": "bafypar"}


def note(**fields: Any) -> dict[str, Any]:
    record = {"$type": "app.bsky.feed.post", "text": "Card blocked", "createdAt": "2026-11-20T10:00:00.000Z",
              "langs": ["pt-BR"]}  # fmt: skip
    return {"uri": URI, "cid": "bafyabc", "author": {"did": "did:plc:ana", "handle": "ana.bsky.social"},
            "reason": "mention", "record": record, "indexedAt": "2026-11-20T10:00:01.000Z"} | fields  # fmt: skip


CASES = [
    ("a mention", note(), (PostKind.MENTION, None, URI, "pt", False)),
    ("a reply to the brand", note(reason="reply", record=note()["record"] | {"reply": {"root": ROOT, "parent": PARENT}}),
     (PostKind.REPLY, PARENT["uri"], ROOT["uri"], "pt", False)),
    ("a quote", note(reason="quote"), (PostKind.MENTION, None, URI, "pt", False)),
    ("the brand's own", note(author={"did": BRAND, "handle": "lumo.bsky.social"}), (PostKind.POST, None, URI, "pt", True)),
    ("no language", note(record=note()["record"] | {"langs": []}), (PostKind.MENTION, None, URI, None, False)),
]  # fmt: skip


@pytest.mark.parametrize(("item", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_notifications(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    post = notification_to_post(item, brand_did=BRAND, source="bsky")
    assert (post.kind, post.parent_id, post.conversation_id, post.lang, post.is_own) == expected
    assert post.url.endswith("/post/3kabc") and post.platform == "bluesky"


BAD = [
    ("a like", note(reason="like"), "reason 'like'"),
    ("no uri", note(uri=None), "uri is missing"),
    ("not an AT URI", note(uri="https://bsky.app/x"), "not an AT URI"),
    ("no cid", note(cid=""), "cid is missing"),
    ("no text", note(record={"createdAt": "2026-11-20T10:00:00Z"}), "record.text"),
    ("no author", note(author=None), "author"),
    ("no indexedAt", note(indexedAt="yesterday"), "indexedAt"),
]


@pytest.mark.parametrize(("item", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_malformed_items_name_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ItemError, match=message):
        notification_to_post(item, brand_did=BRAND, source="bsky")


def test_a_post_dated_in_the_future_is_dated_when_it_was_seen() -> None:
    post = post_view_to_post(note(record=note()["record"] | {"createdAt": "2030-01-01T00:00:00Z"}), brand_did=BRAND,
                             source="bsky")  # fmt: skip
    assert post.created_at.year == 2026


def test_reply_refs_root_at_the_thread_and_parent_at_the_post() -> None:
    top = post_view_to_post(note(), brand_did=BRAND, source="bsky")
    assert refs_for_reply(top) == (Ref(URI, "bafyabc"), Ref(URI, "bafyabc"))
    threaded = post_view_to_post(note(record=note()["record"] | {"reply": {"root": ROOT, "parent": PARENT}}),
                                 brand_did=BRAND, source="bsky")  # fmt: skip
    assert refs_for_reply(threaded) == (Ref(ROOT["uri"], ROOT["cid"]), Ref(URI, "bafyabc"))


@pytest.mark.parametrize(
    ("text", "length"),
    [("hello", 5), ("é", 1), ("e\u0301", 1), ("👍🏽", 1), ("👨‍👩‍👧‍👦", 1), ("🇮🇹🇷🇴", 2), ("नमस्ते", 3)],
)
def test_graphemes(text: str, length: int) -> None:
    assert grapheme_length(text) == length
