"""The one entry point the watcher calls: `triage(post, ctx) -> Triage`.

Rules know nothing of storage or platform APIs: they see a Post and a
TriageContext (the brand, the thresholds, what is known of the author) and
return a score with the reasons behind it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from watcher.config import BrandConfig, TriageConfig
from watcher.post import Post

PRIORITIES = ("urgent", "high", "normal", "low")


@dataclass(frozen=True)
class TriageContext:
    brand: BrandConfig
    thresholds: TriageConfig = field(default_factory=TriageConfig)
    author_recent_posts: int = 0
    author_open_items: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Triage:
    score: int
    priority: str
    needs_reply: bool
    sentiment: float
    sentiment_label: str
    lang: str
    intents: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    channel: str = ""
    suppress: bool = False
    digest_only: bool = False


def priority_for(score: int, thresholds: TriageConfig) -> str:
    if score >= thresholds.urgent_score:
        return "urgent"
    if score >= thresholds.high_score:
        return "high"
    if score >= thresholds.normal_score:
        return "normal"
    return "low"


def sentiment_label(value: float) -> str:
    if value >= 0.05:
        return "positive"
    if value <= -0.05:
        return "negative"
    return "neutral"


# A first keyword layer; rules/intents.py grows it per language.
_URGENT = {
    "safety": r"\b(fire|burn(ed|t)?|smoke|explod\w*|injur\w*|incendi\w*|brucia\w*|quem\w*|verbrenn\w*|feu)\b",
    "legal": r"\b(lawyer|sue|lawsuit|legal action|avvocato|abogado|anwalt|avocat|advogado|denunci\w*)\b",
    "account_takeover": r"\b(hacked|hijacked|someone logged|unauthori[sz]ed|not me|hackerat|gehackt|piratad\w*)\b",
    "double_charge": r"\b(charged twice|double charge|two charges|addebitat\w* due volte|cobrad\w* dos veces|doppelt)\b",
    "outage": r"\b(down|outage|not working|can'?t log ?in|non funziona|no funciona|ne marche|funktioniert nicht)\b",
    "churn": r"\b(close my account|closing my account|switch(ing)? to|cancel\w*|chiudo il conto)\b",
}
_QUESTION = re.compile(r"\?|\b(how|why|when|where|can you|help|come|cómo|wie|comment|como)\b", re.IGNORECASE)
_SPAM = re.compile(r"\b(giveaway|follow (and|&) rt|win a|crypto|airdrop|promo code|dm for)\b", re.IGNORECASE)
_URGENT_RE = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in _URGENT.items()}


class Triager:
    """Loads its models once; `triage` is then pure and thread-safe."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def triage(self, post: Post, ctx: TriageContext) -> Triage:
        text = post.text
        reasons: list[str] = []
        intents: list[str] = []
        lang = post.lang or "unknown"
        compound = float(self._vader.polarity_scores(text)["compound"])
        score = 30
        if compound <= -0.05:
            score += int(round(-compound * 30))
            reasons.append(f"negative {compound:+.2f}")
        elif compound >= 0.5:
            score -= 10
            reasons.append(f"positive {compound:+.2f}")
        if _QUESTION.search(text):
            intents.append("question")
            score += 15
            reasons.append("question or request")
        for name, pattern in _URGENT_RE.items():
            match = pattern.search(text)
            if match:
                intents.append(name)
                score = max(score, ctx.thresholds.urgent_score)
                reasons.append(f"{name.replace('_', ' ')}: '{match.group(0)}'")
        if _SPAM.search(text):
            intents.append("spam")
            score = min(score, 10)
            reasons.append("spam or promo")
        if ctx.author_recent_posts:
            score += min(20, 10 * ctx.author_recent_posts)
            reasons.append(f"message {ctx.author_recent_posts + 1} in {ctx.thresholds.repeat_window_days} days")
        score = max(0, min(100, score))
        return Triage(
            score=score,
            priority=priority_for(score, ctx.thresholds),
            needs_reply=score >= ctx.thresholds.reply_threshold and "spam" not in intents,
            sentiment=compound,
            sentiment_label=sentiment_label(compound),
            lang=lang,
            intents=tuple(intents),
            reasons=tuple(reasons),
        )


_default: Triager | None = None
_default_lock = threading.Lock()


def default_triager() -> Triager:
    global _default
    with _default_lock:
        if _default is None:
            _default = Triager()
        return _default


def triage(post: Post, ctx: TriageContext) -> Triage:
    return default_triager().triage(post, ctx)
