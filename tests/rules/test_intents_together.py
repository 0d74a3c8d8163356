"""Scanning a post once for several languages finds what each language's scanner finds alone."""

from __future__ import annotations

import random

import pytest

from rules.intents import PATTERNS, _scanners
from rules.model import normalize

PHRASES = [
    "still waiting for my refund",
    "il pacco non e arrivato",
    "charged me twice",
    "doble cobro",
    "ne fonctionne pas",
    "kann ich",
    "nao chegou",
    "nu a ajuns",
    "great service",
    "hilfe",
    "help!",
    "cancel my account",
    "niente",
    "?",
    "ok",
    "l'app",
]


def test_one_scan_for_several_languages_finds_what_each_scanner_finds() -> None:
    rng = random.Random(9)
    texts = [" ".join(rng.choice(PHRASES) for _ in range(rng.randint(0, 6))) for _ in range(400)]
    # every alternative's own words, so each language's patterns are met at least once
    words = [alt.replace("\\", " ") for by_lang in PATTERNS.values() for alts in by_lang.values() for alt in alts]
    texts += [" ".join(rng.sample(words, 3)) for _ in range(400)]
    by_lang, all_together = _scanners()
    for text in texts:
        norm = normalize(text)
        for langs, together in all_together.items():
            assert together.first_matches(norm) == [by_lang[code].first_matches(norm) for code in langs], (
                langs,
                norm,
            )


def test_the_gate_refuses_an_alternative_that_need_not_start_with_a_word_character() -> None:
    from rules.intents import _Gate

    assert [m.start() for m in _Gate({"refu", "cancel"}).positions("a refund, then cancel")] == [2, 15]
    for prefixes in ({"refu", ""}, {"refu", "€"}, set()):
        with pytest.raises(ValueError, match="must start with a word character"):
            _Gate(prefixes)
