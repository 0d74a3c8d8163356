"""Prepared answers for how a customer feels: anger, a threat to leave or to go public,
disappointment, praise. The texts are data (watcher/data/emotion_templates.toml), per
emotion, intent and language; the emotion is read from the post's triage signals, and
the draft modal preselects the matching answer."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

FALLBACK_LANG = "en"


class Emotion(StrEnum):
    ANGER = "anger"
    LEAVING = "leaving"  # a threat to leave (the churn intent)
    GOING_PUBLIC = "going_public"  # a threat to go to the press or a regulator
    DISAPPOINTMENT = "disappointment"
    PRAISE = "praise"


LABELS = {
    Emotion.ANGER: "Anger",
    Emotion.LEAVING: "Threat to leave",
    Emotion.GOING_PUBLIC: "Threat to go public",
    Emotion.DISAPPOINTMENT: "Disappointment",
    Emotion.PRAISE: "Praise",
}


@dataclass(frozen=True, slots=True)
class PreparedAnswer:
    emotion: Emotion
    intent: str  # the intent its text is for, or "default"
    lang: str
    text: str  # with {name}, {handle}, {brand} still to fill; {case} is filled

    @property
    def label(self) -> str:
        return f"{LABELS[self.emotion]}, {self.intent} ({self.lang}): {self.text}"


@cache
def _data() -> dict[str, Any]:
    return tomllib.loads(files("watcher").joinpath("data/emotion_templates.toml").read_text(encoding="utf-8"))


def emotion_of(*, intents: Sequence[str], sentiment: float, sentiment_label: str) -> Emotion | None:
    """What the post says about how its author feels; a threat outweighs a mood, and
    praise read as negative is sarcasm, not praise."""
    if "press_threat" in intents:
        return Emotion.GOING_PUBLIC
    if "churn" in intents:
        return Emotion.LEAVING
    if sentiment_label == "negative":
        if sentiment <= float(_data()["anger_below"]):
            return Emotion.ANGER
        asking = bool(intents) and set(intents) <= set(_data()["plain_asks"])
        return None if asking else Emotion.DISAPPOINTMENT
    if "praise" in intents or (sentiment_label == "positive" and not intents):
        return Emotion.PRAISE
    return None


def prepared_answers(emotion: Emotion, *, intents: Sequence[str], lang: str, case: str) -> list[PreparedAnswer]:
    """The answers for `emotion`: the post's intents first, then "default"; in the post's
    language, else English (an agent translates rather than starts from nothing)."""
    by_intent: dict[str, dict[str, str]] = _data().get(emotion.value, {})
    for want in (lang, FALLBACK_LANG):
        found = [
            PreparedAnswer(emotion, intent, want, by_intent[intent][want].replace("{case}", case))
            for intent in dict.fromkeys([*intents, "default"])
            if want in by_intent.get(intent, {})
        ]
        if found:
            return found
    return []


def all_answers() -> list[PreparedAnswer]:
    """Every prepared answer in the data file (for its checks)."""
    return [
        PreparedAnswer(Emotion(emotion), intent, lang, text)
        for emotion, by_intent in _data().items()
        if isinstance(by_intent, dict)
        for intent, by_lang in by_intent.items()
        for lang, text in by_lang.items()
    ]
