"""Short or mixed posts take the likeliest of the brand's languages, never "unknown"
when the text has words (issue 20); a longer post in another language stays unknown."""

from __future__ import annotations

import pytest

from rules.language import UNKNOWN, LanguageDetector

BRAND = ("en", "it", "es", "fr", "de", "pt", "ro")


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector(BRAND)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("super danke", "de"),  # py3langid says Dutch 0.60: not served, but only two words
        ("génial merci", "fr"),  # French below the floor (0.42) and still the best guess
    ],
)
def test_short_post_takes_the_likeliest_brand_language(detector: LanguageDetector, text: str, lang: str) -> None:
    found = detector.detect(text)
    assert found.lang == lang
    assert "likeliest of the brand's languages" in found.why


def test_short_posts_with_words_are_never_unknown(detector: LanguageDetector) -> None:
    texts = ["ok!!", "super danke", "génial merci", "zxq vbn", "top 👍", "merci @Brand #fail"]
    for got in detector.detect_many(texts, [None] * len(texts)):
        assert got.lang in BRAND, got


def test_batch_and_one_by_one_agree_on_the_fallback(detector: LanguageDetector) -> None:
    texts = ["super danke", "génial merci", "ok!!"] * 80  # enough characters for the batch walk
    batch = detector.detect_many(texts, [None] * len(texts))
    assert [(d.lang, d.why, d.confidence) for d in batch] == [
        (d.lang, d.why, d.confidence) for d in (detector.detect(t) for t in texts)
    ]


def test_longer_posts_outside_the_market_stay_unknown(detector: LanguageDetector) -> None:
    dutch = "Mijn bestelling is nog steeds niet aangekomen, wat is er aan de hand"
    assert detector.detect(dutch).lang == UNKNOWN
    assert detector.detect("zxq vbn wrt plk").lang == UNKNOWN  # four non-words: a human looks
    assert detector.detect("😡😡😡").lang == UNKNOWN  # no words at all
