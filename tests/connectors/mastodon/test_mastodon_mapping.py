"""Mastodon payloads -> Post, and how Mastodon counts a reply (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.mastodon.mapping import ItemError, html_text, mastodon_length, status_to_post, with_mention
from watcher.core.post import PostKind

ME = "1"


def status(**fields: Any) -> dict[str, Any]:
    return {"id": "1100", "created_at": "2026-11-20T10:00:00.000Z", "content": "<p>Card blocked</p>",
            "account": {"id": "201", "acct": "ana@other.example", "display_name": "Ana"}, "in_reply_to_id": None,
            "in_reply_to_account_id": None, "spoiler_text": "", "language": "pt-BR", "reblog": None,
            "url": "https://social.example/@ana/1100", "favourites_count": 2} | fields  # fmt: skip


CASES = [
    ("a mention", status(), (PostKind.MENTION, None, "1100", "Card blocked", "pt")),
    ("a reply to the brand", status(in_reply_to_id="1000", in_reply_to_account_id=ME), (PostKind.REPLY, "1000", "1000", "Card blocked", "pt")),
    ("a reply to someone else", status(in_reply_to_id="1000", in_reply_to_account_id="9"), (PostKind.MENTION, "1000", "1000", "Card blocked", "pt")),
    ("the brand's own", status(account={"id": ME, "acct": "lumo"}), (PostKind.POST, None, "1100", "Card blocked", "pt")),
    ("a content warning", status(spoiler_text="money"), (PostKind.MENTION, None, "1100", "[CW: money] Card blocked", "pt")),
]  # fmt: skip


@pytest.mark.parametrize(("item", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_statuses(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    post = status_to_post(item, account_id=ME, source="m")
    assert (post.kind, post.parent_id, post.conversation_id, post.text, post.lang) == expected
    assert post.is_own == (post.kind == PostKind.POST) and post.metrics.likes == 2


@pytest.mark.parametrize(
    ("item", "message"),
    [(status(content=None), "content"), (status(account={}), "account.id"), (status(created_at="x"), "created_at"),
     (status(reblog={"id": "9"}), "boost"), ({"content": "<p>x</p>"}, "id is missing")],
)  # fmt: skip
def test_malformed_statuses_name_the_field(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ItemError, match=message):
        status_to_post(item, account_id=ME, source="m")


def test_html_becomes_text_with_its_line_breaks() -> None:
    html = '<p>Hi <span class="h-card"><a href="https://x/@lumo" class="u-url mention">@<span>lumo</span></a></span>,</p><p>line<br />two &amp; more</p>'
    assert html_text(html) == "Hi @lumo,\n\nline\ntwo & more"


def test_length_and_mention() -> None:
    assert mastodon_length("@ana@other.example hi https://example.com/" + "a" * 80) == len("@ana hi ") + 23
    assert with_mention("Hi!", "ana@other.example") == "@ana@other.example Hi!"
    assert with_mention("@ANA@other.example thanks", "ana@other.example") == "@ANA@other.example thanks"
