"""Themes among negative posts: key phrases, pruning and clustering, worked by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import make_post
from tests.watcher.digest.fixture import triage
from watcher.config import Config
from watcher.core.post import normalized_text
from watcher.digest.jobs import build_digest
from watcher.digest.themes import (
    brand_word_runs,
    cluster_phrases,
    find_themes,
    key_phrases,
    stop_words,
    stop_words_for,
)
from watcher.store import Store

EN = stop_words_for("en")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("still waiting for my refund", {"waiting", "refund"}),
        (
            "waiting for refund since monday",
            {
                "waiting",
                "waiting for refund",
                "refund",
                "refund since",
                "refund since monday",
                "since",
                "since monday",
                "monday",
            },
        ),
        # numbers break phrases; two-letter words are no phrase on their own
        ("order 12345 lost ok", {"order", "lost"}),
        ("the app crashes on login", {"app", "app crashes", "crashes", "crashes on login", "login"}),
    ],
)
def test_key_phrases_never_start_or_end_with_a_stop_word(text: str, expected: set[str]) -> None:
    assert key_phrases(normalized_text(text), EN) == expected


def test_stop_lists_are_accent_free_and_unknown_languages_use_all_of_them() -> None:
    assert "perche" in stop_words()["it"] and "fur" in stop_words()["de"]
    assert stop_words_for("xx") >= stop_words()["it"] | stop_words()["en"]


def _rows(texts: list[str], lang: str = "en") -> list[dict[str, Any]]:
    return [
        {"key": f"k{i}", "text": t, "lang": lang, "url": "", "platform": "x", "handle": f"h{i}", "reach": 10 * i}
        for i, t in enumerate(texts)
    ]


def test_refund_and_crash_themes_by_hand() -> None:
    # df: refund 3, waiting 2, app 2, crashes 2, "app crashes" 2, everything else 1.
    # "app" and "crashes" sit inside "app crashes" as often: dropped for it.
    # "waiting" shares posts {0, 1} with "refund" {0, 1, 2}: cosine 2 / sqrt(6) = 0.82 -> same theme.
    texts = [
        "still waiting for my refund",
        "waiting for refund since monday",
        "refund never arrived",
        "app crashes on login",
        "the app crashes every time",
        "ok",
    ]
    themes = find_themes(_rows(texts))["en"]
    assert [(t.label, t.phrases, t.posts, t.sample) for t in themes] == [
        ("refund", ("refund", "waiting"), 3, 6),
        ("app crashes", ("app crashes",), 2, 6),
    ]
    assert [e.key for e in themes[0].examples] == ["k2", "k1", "k0"]  # largest reach first
    assert themes[1].share == pytest.approx(2 / 6)


def test_brand_names_are_not_themes() -> None:
    texts = ["Lumo refund late", "Lumo refund missing", "Lumo app slow"]
    themes = find_themes(_rows(texts), brand_terms=["Lumo"])
    assert [t.label for t in themes["en"]] == ["refund"]
    assert "lumo" in [t.label for t in find_themes(_rows(texts))["en"]]


def test_a_brand_name_breaks_a_phrase_and_a_two_word_alias_is_dropped_as_a_whole() -> None:
    brand = brand_word_runs(["Lumo Bank", "u/LumoOfficial"])
    assert brand == {("lumo", "bank"), ("u", "lumoofficial"), ("lumoofficial",)}
    assert key_phrases(normalized_text("app lumo bank crashing"), EN, brand) == {"app", "crashing"}
    assert "bank transfer" in key_phrases(normalized_text("bank transfer failed"), EN, brand)
    assert key_phrases(normalized_text("@LumoOfficial refund"), EN, brand) == {"refund"}


LUMO = {
    "name": "Lumo",
    "aliases": ["Lumo Bank", "LumoBank"],
    "handles": ["@LumoBank", "u/LumoOfficial"],
    "own_accounts": {"x": ["900000001"], "reddit": ["LumoOfficial"]},
    "staff_accounts": ["LumoSupport"],
    "timezone": "Europe/Rome",
}


def test_digest_themes_leave_out_the_brand_names_handles_and_accounts(
    store: Store, make_config: Callable[..., Config]
) -> None:
    # the brand is in every post, in each of its forms; the problems are what the posts share
    texts = [
        "@LumoBank outage again, the app is down",
        "#Lumo outage all morning, Lumo Bank please fix",
        "u/LumoOfficial data leak: I saw another customer, @LumoSupport",
        "@LumoSupport data leak is scary, LumoOfficial answer",
        "#lumobank card reader fire at the shop",
        "card reader fire video, lumoofficial silent, lumosupport silent",
    ]
    for minutes, text in enumerate(texts):
        post = make_post(text, minutes=minutes, created_at=datetime(2026, 11, 20, 9, minutes, tzinfo=UTC))
        store.posts.insert_post(post, triage("negative"), fetched_at=post.created_at)
    digest = build_digest(store, make_config(brand=LUMO), period="day", now=datetime(2026, 11, 21, 9, tzinfo=UTC))
    themes = digest.themes["en"]
    brand_words = {"lumo", "lumobank", "lumoofficial", "lumosupport", "bank"}
    assert not [p for t in themes for p in t.phrases if brand_words & set(p.split())]
    assert sorted(t.label for t in themes) == ["card reader fire", "data leak", "outage"]


def test_themes_are_per_language_and_need_two_posts() -> None:
    rows = _rows(["consegna in ritardo", "consegna in ritardo ancora"], lang="it") + _rows(["one lone complaint"])
    themes = find_themes(rows)
    assert list(themes) == ["it"]
    assert themes["it"][0].label == "consegna in ritardo"
    assert find_themes([]) == {}


def test_cluster_is_deterministic_and_limited() -> None:
    docs = [{"a", "b"}, {"a", "b"}, {"c"}, {"c"}, {"d"}, {"d"}]
    themes = cluster_phrases(docs)
    assert [(label, phrases, sorted(members)) for label, phrases, members in themes] == [
        ("a · b", ["a", "b"], [0, 1]),  # always together: both name the theme
        ("c", ["c"], [2, 3]),
        ("d", ["d"], [4, 5]),
    ]
    assert [label for label, _p, _m in cluster_phrases(list(reversed(docs)))] == ["a · b", "c", "d"]
    assert len(cluster_phrases(docs, candidates=1)) == 1
