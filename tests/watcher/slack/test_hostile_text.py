"""Hostile text: what a stranger writes reaches an agent's eyes and the brand's public
reply only as plain, visible words (issue #22)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.conftest import make_post
from watcher.core.item import QueueItem
from watcher.core.post import Author
from watcher.core.text import plain, visible
from watcher.core.vocab import Priority, QueueState
from watcher.slack.cards import CardView, card_blocks
from watcher.slack.modals import render_template
from watcher.slack.mrkdwn import escape, post_url, quote
from watcher.slack.sla import SlaState

RLO, ZWSP = "\u202e", "\u200b"


def test_bidi_and_control_characters_are_shown_and_zero_width_ones_dropped():
    assert visible(f"pay{RLO}gnp.exe") == "pay⟨U+202E⟩gnp.exe"
    assert visible(f"ad{ZWSP}min\x07") == "admin⟨U+0007⟩"
    assert visible("Katie 🏃\u200d♀️\tok\r\nnext") == "Katie 🏃\u200d♀️\tok\nnext"  # emoji joiners, tabs, lines stay
    assert RLO not in escape(f"<{RLO}>") and "&lt;" in escape(f"<{RLO}>")


def test_a_post_of_thousands_of_lines_keeps_its_words_in_the_quote():
    quoted = quote("refund please\n" * 3000, 2900)
    assert len(quoted) <= 2900 and quoted.count("refund please") > 100 and quoted.endswith("…")
    assert quote("\n" * 5000 + "hello", 2900).endswith("hello")  # blank runs count as one line


@pytest.mark.parametrize("limit", [3, 10, 100, 2900])
def test_a_quote_never_passes_its_limit(limit):
    for text in ("a\n" * 5000, "<&>" * 2000, "x" * 10000, "line one\nline two"):
        assert len(quote(text, limit)) <= limit


def test_template_placeholders_are_plain_words():
    post = make_post(handle="<!channel>evil")
    post = replace(
        post, author=Author(id="1", handle="@carla_b<!here>", display_name="<!channel> visit scam.example now")
    )
    reply = render_template("Hi {name} ({handle}), thanks! -{brand}", post=post, brand="Acme")
    assert reply == "Hi channel visit now (@carla_bhere), thanks! -Acme"
    long = replace(post, author=Author(id="1", handle="x" * 500, display_name="Anna " * 100))
    assert len(render_template("{name}{handle}", post=long, brand="Acme")) <= 40 + 31
    assert plain(f"Ann{RLO}a", 40) == "Anna"


@pytest.mark.parametrize(
    ("platform", "url", "kept"),
    [
        ("x", "https://x.com/ann/status/1", True),
        ("reddit", "https://old.reddit.com/r/a/comments/1", True),
        ("x", "https://x.com.evil.example/ann", False),
        ("x", "https://evil.example/x.com", False),
        ("x", "javascript:alert(1)", False),
        ("x", "https://[::1", False),
        ("reddit", "https://x.com/ann/status/1", False),
        ("no_such_platform", "https://example.com/", False),
        ("mastodon", "https://any.social/@ann/1", True),
    ],
)
def test_post_links_stay_on_the_platforms_hosts(platform, url, kept):
    assert post_url(platform, url) == (url if kept else "")


def test_the_card_shows_hidden_characters_and_links_only_to_the_platform():
    post = make_post(f"refund{RLO}txt.exe now", url="https://evil.example/phish")
    item = QueueItem(7, "x:1", QueueState.NEW, Priority.HIGH, 70, "", datetime(2026, 11, 16, 9, tzinfo=UTC), 1)
    due = datetime(2026, 11, 16, 10, tzinfo=UTC)
    view = CardView(
        item=item,
        post=post,
        triage=None,
        sla=SlaState(due_at=due, status="running", minutes=30),
        approval_required=False,
    )
    text = json.dumps(card_blocks(view), ensure_ascii=False)
    assert RLO not in text and "⟨U+202E⟩" in text
    assert "evil.example" not in text
