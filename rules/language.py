"""Offline language detection restricted to the brand's market languages.

py3langid (a naive Bayes over byte n-grams, shipped with its model) is run over
the brand's languages plus a few major ones as "others": a post in a language the
brand does not serve comes out as "unknown" instead of being forced into the
nearest market language. Below a confidence floor the answer is also "unknown",
unless the platform's own language tag agrees with a market language: short texts
("ok", "ciao!") are hard for any detector, and the platform often saw more.

A post up to `trust_hint_chars` long whose platform tag names a market language
is taken at the platform's word without running the detector: on a tweet-sized
text the platform's detector (which also knows the author's history) is at least
as good as a byte n-gram model, and py3langid walks the text byte by byte in
Python, which made it the largest single cost of triage.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

UNKNOWN = "unknown"
DETECT_CHARS = 600
# Compared against the market languages so a foreign post is not forced into one.
OTHERS = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "ro", "tr")

_TWO_LETTERS = re.compile(r"[^\W\d_].*?[^\W\d_]", re.DOTALL)
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|\d+")


@dataclass(frozen=True)
class Detected:
    lang: str
    confidence: float
    why: str


class LanguageDetector:
    """Built once per Triager (the model takes ~0.3 s to load); `detect` is then cheap.
    py3langid's identifier keeps mutable scratch state, so calls are serialized."""

    def __init__(self, languages: tuple[str, ...], *, floor: float = 0.5, trust_hint_chars: int = 200) -> None:
        from py3langid import langid

        self.languages = tuple(dict.fromkeys(lang.lower() for lang in languages)) or ("en",)
        self.floor = floor
        self.trust_hint_chars = trust_hint_chars
        self._identifier = langid.LanguageIdentifier.from_modelpath(
            Path(langid.MODEL_DIR) / langid.MODEL_FILE, norm_probs=True
        )
        known = set(self._identifier.nb_classes)
        candidates = [lang for lang in (*self.languages, *OTHERS) if lang in known]
        self._identifier.set_languages(list(dict.fromkeys(candidates)))
        self._lock = threading.Lock()

    def detect(self, text: str, *, hint: str | None = None) -> Detected:
        hint = (hint or "").lower().split("-")[0] or None
        if hint in self.languages and len(text) <= self.trust_hint_chars:
            return Detected(hint, 1.0, f"platform says {hint}")
        clean = " ".join(_NOISE.sub(" ", text).split())
        if not _TWO_LETTERS.search(clean):
            if hint in self.languages:
                return Detected(hint, 0.0, f"platform says {hint}")
            return Detected(UNKNOWN, 0.0, "no words to detect a language from")
        with self._lock:
            # the first DETECT_CHARS characters settle the language of a long Reddit
            # post as well as all of it, and the detector's cost grows with every byte
            lang, prob = self._identifier.classify(clean[:DETECT_CHARS])
        prob = float(prob)
        if lang in self.languages and prob >= self.floor:
            return Detected(lang, prob, f"{lang} {prob:.2f}")
        if hint in self.languages:
            return Detected(hint, prob, f"platform says {hint} (detector unsure: {lang} {prob:.2f})")
        if lang not in self.languages and prob >= self.floor:
            return Detected(UNKNOWN, prob, f"{lang} {prob:.2f} is not one of the brand's languages")
        return Detected(UNKNOWN, prob, f"language unsure ({lang} {prob:.2f} < {self.floor:.2f})")
