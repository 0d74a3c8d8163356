"""Reply length as X counts it, and reply-text comparison."""

from __future__ import annotations

import pytest

from connectors.x.text import comparable_reply_text, reply_length_problem, weighted_length


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("hello", 5),
        ("a" * 280, 280),
        ("Grüße, ça va? Привет! שלום مرحبا", 32),  # Latin, Cyrillic, Hebrew, Arabic weigh 1
        ("“quotes” – dash…", 17),  # quotes and dash weigh 1, the ellipsis (U+2026) weighs 2
        ("你好", 4),
        ("こんにちは", 10),
        ("안녕", 4),
        ("👍", 2),
        ("👍🏽", 2),  # skin tone modifier
        ("👨‍👩‍👧", 2),  # ZWJ family
        ("🇮🇹", 2),  # flag: two regional indicators
        ("❤️", 2),  # heart + VS16
        ("1️⃣", 2),  # keycap
        ("https://t.co/x", 23),
        ("see https://help.acme.example/a/very/long/path/that/goes/on?and=on&on=1 now", 4 + 23 + 4),
        ("visit acme.com.", 6 + 23 + 1),
        ("www.acme.io/help", 23),
        ("mail me@acme.com", 16),  # an email is not a link
        ("e\u0301", 1),  # NFC: e + combining acute is one é
    ],
)
def test_weighted_length(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_links_count_23_without_their_trailing_punctuation() -> None:
    # "go to " 6 + link 23 + ")." 2 + " or " 4 + link 23 + "!" 1
    assert weighted_length("go to https://acme.com/help). or acme.io!") == 6 + 23 + 2 + 4 + 23 + 1


def test_limit_is_280_weighted() -> None:
    assert reply_length_problem("a" * 280) is None
    assert reply_length_problem("你" * 140) is None
    problem = reply_length_problem("你" * 141)
    assert problem is not None and "282" in problem and "shorten it by 2" in problem


def test_a_long_link_counts_23_so_the_reply_fits() -> None:
    text = "a" * 250 + " https://" + "x" * 200 + ".com"
    assert len(text) > 280 and reply_length_problem(text) is None


def test_empty_reply_is_a_problem() -> None:
    assert reply_length_problem("   ") == "the reply is empty; write the public reply first"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("Thanks & sorry!", "@alice Thanks &amp; sorry!"),
        ("See https://acme.example/refunds", "@alice @bob See https://t.co/AbC123"),
        ("Two  spaces", "two spaces"),
    ],
)
def test_our_text_matches_the_copy_x_returns(ours: str, theirs: str) -> None:
    assert comparable_reply_text(ours) == comparable_reply_text(theirs)


def test_different_words_do_not_match() -> None:
    assert comparable_reply_text("We're on it") != comparable_reply_text("@alice We're not on it")
