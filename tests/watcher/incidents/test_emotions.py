"""Prepared answers for emotions: the emotion read from the triage signals, the answers
per emotion, intent and language, and that none of them promises anything."""

from __future__ import annotations

import string

import pytest

from watcher.core.vocab import MARKET_LANGUAGES
from watcher.incidents.emotions import Emotion, all_answers, emotion_of, prepared_answers
from watcher.incidents.promises import bundled_promises

PLACEHOLDERS = {"name", "handle", "brand", "case"}


@pytest.mark.parametrize(
    ("intents", "sentiment", "label", "expected"),
    [
        (("complaint", "press_threat"), -0.9, "negative", Emotion.GOING_PUBLIC),
        (("churn",), -0.2, "negative", Emotion.LEAVING),
        (("outage",), -0.8, "negative", Emotion.ANGER),
        (("complaint",), -0.3, "negative", Emotion.DISAPPOINTMENT),
        ((), -0.3, "negative", Emotion.DISAPPOINTMENT),
        (("question",), -0.3, "negative", None),  # a question in a flat tone is a question
        (("question",), -0.7, "negative", Emotion.ANGER),
        (("praise",), 0.8, "positive", Emotion.PRAISE),
        ((), 0.6, "positive", Emotion.PRAISE),
        (("praise",), -0.6, "negative", Emotion.ANGER),  # praise read as negative is sarcasm
        (("question",), 0.4, "positive", None),
        (("question",), 0.0, "neutral", None),
    ],
)
def test_the_emotion_is_read_from_the_triage_signals(
    intents: tuple[str, ...], sentiment: float, label: str, expected: Emotion | None
) -> None:
    assert emotion_of(intents=intents, sentiment=sentiment, sentiment_label=label) == expected


@pytest.mark.parametrize("emotion", list(Emotion))
def test_every_emotion_has_a_default_answer_in_every_market_language(emotion: Emotion) -> None:
    langs = {a.lang for a in all_answers() if a.emotion == emotion and a.intent == "default"}
    assert langs == set(MARKET_LANGUAGES)


def test_no_prepared_answer_promises_anything_or_uses_an_unknown_placeholder() -> None:
    promises = bundled_promises()
    for answer in all_answers():
        assert promises.check(answer.text, answer.lang) == [], answer
        names = {name for _, name, _, _ in string.Formatter().parse(answer.text) if name is not None}
        assert names <= PLACEHOLDERS, answer


def test_the_post_intent_comes_first_then_the_default_with_the_case_filled_in() -> None:
    [outage, default] = prepared_answers(Emotion.ANGER, intents=("outage",), lang="it", case="#42")
    assert (outage.intent, default.intent) == ("outage", "default")
    assert "Pratica #42" in outage.text and "{case}" not in default.text and "{name}" in default.text
    assert outage.label.startswith("Anger, outage (it): Ciao {name}")


def test_a_language_without_answers_falls_back_to_english() -> None:
    [answer] = prepared_answers(Emotion.PRAISE, intents=(), lang="nl", case="#1")
    assert answer.lang == "en"
    [only_default] = prepared_answers(Emotion.ANGER, intents=("outage",), lang="ro", case="#1")
    assert (only_default.intent, only_default.lang) == ("default", "ro")
