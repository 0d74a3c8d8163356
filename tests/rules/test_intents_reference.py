"""The intent scanners and gated searches find exactly what plain `re.search` finds: the
reference here is one search per intent and language, PATTERNS read the obvious way."""

from __future__ import annotations

import random
import re

import pytest

from rules.intents import (
    _NEGATIVE_EVENT_TEXT,
    _POSITIVE_TEXT,
    _SARCASM_MARKERS_TEXT,
    LANGUAGES,
    PATTERNS,
    IntentHit,
    _Gated,
    detect_intents,
)
from rules.model import normalize

WORDS = [alt.replace("\\", " ") for by_lang in PATTERNS.values() for alts in by_lang.values() for alt in alts]
FILLER = ["ok", "the", "?", "!", "l'app", "2x", "great", "again", "thanks for nothing", "/s", "🙄", "_x", "é", "ß"]


def texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = rng.sample(WORDS, rng.randint(0, 3)) + rng.sample(FILLER, rng.randint(0, 4))
        rng.shuffle(parts)
        glue = rng.choice([" ", ", ", "", "-", "!! "])
        out.append(glue.join(parts))
    return out


def reference(norm: str, lang: str) -> list[IntentHit]:
    """One `search` per intent: the post's language first, then English (every language
    for one outside LANGUAGES); a lone '?' is a question; a double charge is billing too."""
    langs = ("en",) if lang == "en" else (lang, "en") if lang in LANGUAGES else LANGUAGES
    hits = []
    for intent, by_lang in PATTERNS.items():
        for code in langs:
            alternatives = by_lang.get(code, ())
            m = re.search(r"\b(?:" + "|".join(alternatives) + r")\b", norm) if alternatives else None
            if m:
                hits.append(IntentHit(intent, code, m.group(0)))
                break
        else:
            if intent == "question" and "?" in norm:
                hits.append(IntentHit("question", lang, "?"))
    names = {h.intent for h in hits}
    if "double_charge" in names and "billing" not in names:
        hits.append(IntentHit("billing", lang, next(h.match for h in hits if h.intent == "double_charge")))
    return hits


@pytest.mark.parametrize("lang", [*LANGUAGES, "unknown"])
def test_detect_intents_is_one_search_per_intent(lang: str) -> None:
    for text in texts(150, seed=len(lang) * 31 + ord(lang[0])):
        norm = normalize(text)
        assert detect_intents(norm, lang) == reference(norm, lang), (lang, norm)


@pytest.mark.parametrize(
    "pattern", [_POSITIVE_TEXT, _NEGATIVE_EVENT_TEXT, _SARCASM_MARKERS_TEXT, r"\bfoo|bar\b", r"_x"]
)
def test_gated_search_is_re_search(pattern: str) -> None:
    gated = _Gated(pattern)
    for text in [*texts(300, seed=5), "", " ", "great", "xgreat", "great!", "_great", "foo", "bar"]:
        norm = normalize(text)
        m = re.search(pattern, norm)
        assert gated.search(norm) == (m.group(0) if m else None), (pattern, norm)
