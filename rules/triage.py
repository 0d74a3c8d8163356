"""The one entry point the watcher calls: `triage(post, ctx) -> Triage`.

Rules know nothing of storage or platform APIs: they see a Post and a
TriageContext (the brand, the thresholds, what is known of the author) and
return a score with the reasons behind it.

How a score is made (each step adds a reason):
1. signals: language (rules/language.py), sentiment (rules/sentiment.py), intents
   and sarcasm (rules/intents.py), all from one hashed view of the text;
2. the learned needs-reply model (rules/model.py) turns text + signals into a
   probability: the base score is 100 x that probability;
3. rules (rules/engine.py: built-in, then the team's file) boost or lower it,
   set a priority floor, route, tag, suppress or send to the digest only.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rules.engine import PRIORITIES, Facts, Outcome, RuleSet, load_ruleset
from rules.intents import URGENT_INTENTS, IntentHit, bit_mask, detect_intents, sarcasm
from rules.language import LanguageDetector
from rules.model import HashedText, LinearModel, ModelError, SparseStack, hash_batch, load_models
from rules.sentiment import DATA_DIR, Sentiment, SentimentAnalyzer
from watcher.config import BrandConfig, ConfigError, ConfigProblem, TriageConfig
from watcher.post import Post

if TYPE_CHECKING:
    from watcher.config import Config

__all__ = ["PRIORITIES", "Triage", "TriageContext", "Triager", "default_triager", "triage", "triager_for"]

NEEDS_REPLY_MODEL_FILE = DATA_DIR / "needs_reply.npz"
NO_TEXT = HashedText("", (), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
MODEL_HEADROOM = 5  # the model's score range ends this far below urgent_score
REPLY_DENSE = (
    "sentiment",
    "negative",
    "positive",
    "question",
    "complaint",
    "billing",
    "delivery",
    "outage",
    "urgent",
    "praise",
    "thanks_close",
    "spam",
    "sarcasm",
    "emoji_negative",
    "log_words",
)
INTENT_LABELS = {
    "question": "question or request",
    "complaint": "complaint",
    "billing": "billing or refund",
    "double_charge": "double charge",
    "delivery": "delivery problem",
    "outage": "outage",
    "account_takeover": "account takeover",
    "privacy_breach": "privacy breach",
    "safety": "safety hazard",
    "legal": "legal threat",
    "press_threat": "press or regulator threat",
    "churn": "churn threat",
    "praise": "praise",
    "thanks_close": "thanks",
    "spam": "spam or promo",
}


@dataclass(frozen=True)
class TriageContext:
    brand: BrandConfig
    thresholds: TriageConfig = field(default_factory=TriageConfig)
    author_recent_posts: int = 0
    author_open_items: int = 0
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


# one per post: slots rather than frozen (a frozen dataclass pays a setattr call per field);
# nothing changes a Triage once made
@dataclass(slots=True)
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
    model_probability: float = 0.0
    rules_fired: tuple[str, ...] = ()


# built for every post: plain slots, as a frozen dataclass pays a setattr call per field
@dataclass(slots=True)
class Signals:
    """Everything read from the text alone; shared by scoring and training."""

    hashed: HashedText
    lang: str
    lang_why: str
    sentiment: Sentiment
    hits: tuple[IntentHit, ...]
    sarcasm: str | None
    # (id(model) -> hashed part of that model's logits for a batch, this post's row in it)
    text_logits: tuple[Mapping[int, np.ndarray], int] = field(default=({}, 0), compare=False, repr=False)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(h.intent for h in self.hits)

    def reply_dense(self) -> list[float]:
        return [float(v) for v in reply_dense_matrix([self])[0]]


_REPLY_INTENTS = ("question", "complaint", "billing", "delivery", "outage")


def reply_dense_matrix(signals: Sequence[Signals]) -> np.ndarray:
    """The needs-reply model's dense features (REPLY_DENSE, one row per post), built
    column by column from each post's intents as one bit mask."""
    n = len(signals)
    bits = np.fromiter((bit_mask(h.intent for h in s.hits) for s in signals), dtype=np.int64, count=n)
    labels = [s.sentiment.label for s in signals]

    def has(*intents: str) -> np.ndarray:
        return (bits & bit_mask(intents)) != 0

    columns = [
        np.fromiter((s.sentiment.value for s in signals), dtype=np.float64, count=n),
        np.fromiter((label == "negative" for label in labels), dtype=bool, count=n),
        np.fromiter((label == "positive" for label in labels), dtype=bool, count=n),
        *(has(intent) for intent in _REPLY_INTENTS),
        has(*URGENT_INTENTS),
        has("praise"),
        has("thanks_close"),
        has("spam"),
        np.fromiter((s.sarcasm is not None for s in signals), dtype=bool, count=n),
        np.fromiter((s.sentiment.emoji < 0 for s in signals), dtype=bool, count=n),
        np.log1p(np.fromiter((len(s.hashed.words) for s in signals), dtype=np.float64, count=n)) / 4.0,
    ]
    return np.stack(columns, axis=1).astype(np.float32).reshape(n, len(REPLY_DENSE))


def priority_for(score: int, thresholds: TriageConfig) -> str:
    if score >= thresholds.urgent_score:
        return "urgent"
    if score >= thresholds.high_score:
        return "high"
    if score >= thresholds.normal_score:
        return "normal"
    return "low"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class NeedsReplyModel:
    """The default model, optionally stacked under a team-trained one (`watcher train`):
    a team model takes the default's logit as one more feature, so a few hundred
    outcomes correct the default instead of replacing it.

    The default's word and character n-grams were learned from English posts, so on
    any other language they say next to nothing and a plain Italian complaint scored
    as "no reply needed". Posts not in English are scored by `signals_only`, a model
    fitted on the same data over the language-independent signals alone (sentiment
    from the post's own language model, intents from its own language's patterns)."""

    def __init__(
        self, default: LinearModel | None, team: LinearModel | None = None, *, signals_only: LinearModel | None = None
    ) -> None:
        self.default = default
        self.team = team
        self.signals_only = signals_only

    @classmethod
    def load(cls, path: Path | None = None) -> NeedsReplyModel:
        default = signals_only = None
        if NEEDS_REPLY_MODEL_FILE.exists():
            shipped = load_models(NEEDS_REPLY_MODEL_FILE, kind="needs_reply")[0]
            default, signals_only = shipped["default"], shipped.get("signals_only")
        team = None
        if path is not None:
            team = load_models(path, kind="needs_reply")[0]["default"]
        return cls(default, team, signals_only=signals_only)

    def uses_text(self, lang: str) -> bool:
        """Whether the default model reads the hashed text for a post in `lang`."""
        return self.default is not None and (lang == "en" or self.signals_only is None)

    def base_logit(self, signals: Signals) -> float:
        return float(self.base_logits([signals], reply_dense_matrix([signals]))[0])

    def probability(self, signals: Signals) -> float:
        return float(self.probabilities([signals])[0])

    def probabilities(self, signals: Sequence[Signals]) -> np.ndarray:
        """P(needs reply) for each post, the models applied to the whole batch at once."""
        dense = reply_dense_matrix(signals)
        z = self.base_logits(signals, dense)
        if self.team is not None:
            hashed = _text_part(self.team, signals)
            z = self.team.combine(hashed, np.hstack([dense, z[:, None].astype(np.float32)]))[:, 0]
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def base_logits(self, signals: Sequence[Signals], dense: np.ndarray) -> np.ndarray:
        """The default (or signals-only) model's logit per post; `dense` is `reply_dense_matrix(signals)`."""
        if self.default is None:
            return np.asarray([_prior_logit(s) for s in signals], dtype=np.float64)
        z = np.zeros(len(signals))
        text = np.asarray([self.uses_text(s.lang) for s in signals], dtype=bool)
        if text.any():
            rows = [s for s, t in zip(signals, text, strict=True) if t]
            z[text] = self.default.combine(_text_part(self.default, rows), dense[text])[:, 0]
        if not text.all() and self.signals_only is not None:
            z[~text] = self.signals_only.combine(np.zeros((int((~text).sum()), 1)), dense[~text])[:, 0]
        return z


def _text_part(model: LinearModel, signals: Sequence[Signals]) -> np.ndarray:
    """The hashed part of `model`'s logits for each post: from the batch product when
    there was one, else from the post's own features."""
    parts = []
    for s in signals:
        batch, row = s.text_logits
        found = batch.get(id(model))
        parts.append(found[row] if found is not None else model.hashed_logits([s.hashed])[0])
    return np.stack(parts) if parts else np.zeros((0, len(model.bias)))


def _prior_logit(signals: Signals) -> float:
    """Without a trained model file: a transparent hand-set blend of the signals."""
    d = dict(zip(REPLY_DENSE, signals.reply_dense(), strict=True))
    return (
        -1.0
        - 1.5 * d["sentiment"]
        + 1.2 * d["question"]
        + 1.2 * d["complaint"]
        + 0.8 * d["delivery"]
        + 1.0 * d["urgent"]
        - 1.5 * d["spam"]
        - 1.0 * d["thanks_close"]
    )


class Triager:
    """Loads its models once; `triage` is then pure and thread-safe."""

    def __init__(
        self,
        *,
        languages: Sequence[str] = ("en", "it", "es", "de", "fr", "pt", "ro"),
        language_floor: float = 0.5,
        rules: RuleSet | None = None,
        model_path: Path | None = None,
    ) -> None:
        self.detector = LanguageDetector(tuple(languages), floor=language_floor)
        self.sentiment = SentimentAnalyzer()
        self.rules = rules if rules is not None else load_ruleset()
        self.model = NeedsReplyModel.load(model_path)
        self._stacks: dict[tuple[str, int, int], SparseStack] = {}

    def stack(self, lang: str) -> SparseStack:
        """The hashed weights of every model a post in `lang` meets, built once per language
        (and again if a model is swapped, as the benchmarks and training do)."""
        key = (lang, id(self.model), id(self.sentiment.models))
        found = self._stacks.get(key)
        if found is None:
            default = self.model.default if self.model.uses_text(lang) else None
            models = [self.sentiment.models.get(lang), self.sentiment.quick_model(lang), default, self.model.team]
            if len(self._stacks) > 64:
                self._stacks.clear()
            found = self._stacks.setdefault(key, SparseStack([m for m in models if m is not None]))
        return found

    @classmethod
    def from_config(cls, config: Config) -> Triager:
        """Languages, floor, rules file and model path from config.toml. A bad rules
        file or model file is a ConfigError naming the file and key, like config.toml's."""
        t = config.triage
        rules_file = config.resolve_path(t.rules_file) if t.rules_file else None
        model_path = config.resolve_path(t.model_path) if t.model_path else None
        rules = load_ruleset(rules_file)
        try:
            return cls(
                languages=config.brand.languages,
                language_floor=t.language_confidence_floor,
                rules=rules,
                model_path=model_path,
            )
        except ModelError as exc:
            raise ConfigError([ConfigProblem(config.file, "triage.model_path", str(exc))]) from None

    def signals(self, text: str, *, lang_hint: str | None = None) -> Signals:
        return self.signals_many([text], [lang_hint])[0]

    def signals_many(self, texts: Sequence[str], hints: Sequence[str | None]) -> list[Signals]:
        """Everything read from the texts alone. The texts are hashed together and each
        language's models are applied to all of its posts in one sparse product."""
        detected = self.detector.detect_many(texts, hints)
        # hashed in language order, so each language's posts are one run of rows
        order = sorted(range(len(texts)), key=lambda i: detected[i].lang)
        batch = hash_batch([texts[i] for i in order])
        found: dict[int, Signals] = {}  # post index -> its signals, filled language by language
        start = 0
        for lang, group in itertools.groupby(order, key=lambda i: detected[i].lang):
            members = list(group)
            stop = start + len(members)
            parts = self.stack(lang).logits(batch.matrix(start, stop))
            rows = batch.rows(start, stop)
            moods = self.sentiment.analyze_many(rows, [texts[i] for i in members], lang, parts)
            for row, (i, x, mood) in enumerate(zip(members, rows, moods, strict=True)):
                hits = tuple(detect_intents(x.norm, lang))
                irony = sarcasm(x.norm, (h.intent for h in hits))
                if irony:
                    hits = tuple(h for h in hits if h.intent != "praise")
                    if mood.value > -0.3:
                        mood = mood.read_as_negative(floor=-0.3)
                found[i] = Signals(x, lang, detected[i].why, mood, hits, irony, (parts, row))
            start = stop
        return [found[i] for i in range(len(texts))]

    def triage(self, post: Post, ctx: TriageContext) -> Triage:
        return self.triage_many([post], [ctx])[0]

    def triage_many(self, posts: Sequence[Post], contexts: Sequence[TriageContext]) -> list[Triage]:
        """One Triage per post, in order: the same as `triage` for each, computed for the batch at once."""
        if len(posts) != len(contexts):
            raise ValueError(f"{len(posts)} posts but {len(contexts)} contexts")
        if not posts:
            return []
        signals = self.signals_many([p.text for p in posts], [p.lang for p in posts])
        probabilities = self.model.probabilities(signals).tolist()
        facts = [self.facts(post, sig, ctx) for post, sig, ctx in zip(posts, signals, contexts, strict=True)]
        outcomes = [
            Outcome(
                # The model alone tops out below the urgent band: "urgent" is for what a rule
                # names (safety, legal, takeover...) or a pile-up of context, not for a
                # confidently ordinary complaint.
                score=probability * (ctx.thresholds.urgent_score - MODEL_HEADROOM),
                reasons=_signal_reasons(sig, ctx, probability),
            )
            for sig, ctx, probability in zip(signals, contexts, probabilities, strict=True)
        ]
        by_bands: dict[tuple[int, int, int], list[int]] = {}  # posts with the same priority bands
        for i, ctx in enumerate(contexts):
            t = ctx.thresholds
            by_bands.setdefault((t.urgent_score, t.high_score, t.normal_score), []).append(i)
        for (urgent, high, normal), members in by_bands.items():
            floors = {"urgent": urgent, "high": high, "normal": normal, "low": 0}
            self.rules.apply_many([facts[i] for i in members], [outcomes[i] for i in members], band_floor=floors)
        return [
            _result(sig, ctx.thresholds, outcome, probability)
            for sig, ctx, outcome, probability in zip(signals, contexts, outcomes, probabilities, strict=True)
        ]

    @staticmethod
    def facts(post: Post, sig: Signals, ctx: TriageContext) -> Facts:
        accounts = _brand_accounts(ctx.brand)
        lists: frozenset[str] = frozenset()
        if accounts.lists:
            who = {post.author.id.casefold(), post.author.handle.lstrip("@").casefold()} - {""}
            lists = frozenset(name for name, members in accounts.lists if not who.isdisjoint(members))
        mentions = False
        if accounts.rivals and "competitor" not in lists:
            text = post.text.casefold()
            mentions = any(_word_in(r, text) for r in accounts.rivals)
        return Facts(
            text=post.text,
            norm=sig.hashed.norm,
            lang=sig.lang,
            platform=post.platform,
            source=post.source,
            kind=str(post.kind),
            sentiment=sig.sentiment.value,
            intents=frozenset(sig.intents),
            followers=post.author.followers,
            verified=post.author.verified,
            engagement=post.metrics.engagement,
            repeat=ctx.author_recent_posts,
            open_items=ctx.author_open_items,
            tokens=sig.hashed.words,
            author_lists=lists,
            mentions_competitor=mentions,
            sarcasm=sig.sarcasm is not None,
        )


@dataclass(frozen=True)
class BrandAccounts:
    """The brand's account lists, case-folded once rather than for every post."""

    lists: tuple[tuple[str, frozenset[str]], ...]
    rivals: tuple[str, ...]


_accounts_cache: dict[int, tuple[BrandConfig, BrandAccounts]] = {}


def _brand_accounts(brand: BrandConfig) -> BrandAccounts:
    found = _accounts_cache.get(id(brand))
    if found is not None and found[0] is brand:
        return found[1]

    def folded(accounts: Sequence[str]) -> frozenset[str]:
        return frozenset(a.lstrip("@").casefold() for a in accounts)

    lists = (
        ("vip", folded(brand.vip_accounts)),
        ("staff", folded(brand.staff_accounts)),
        ("competitor", folded(brand.competitors)),
    )
    made = BrandAccounts(
        lists=tuple((name, members) for name, members in lists if members),
        rivals=tuple(c.lstrip("@").casefold() for c in brand.competitors),
    )
    if len(_accounts_cache) > 64:
        _accounts_cache.clear()
    _accounts_cache[id(brand)] = (brand, made)
    return made


def _word_in(word: str, text: str) -> bool:
    start = text.find(word)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(word)
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(word, start + 1)
    return False


def _signal_reasons(sig: Signals, ctx: TriageContext, probability: float) -> list[str]:
    reasons = [f"needs-reply model {probability:.2f}", sig.sentiment.why]
    if sig.lang == "unknown":
        reasons.append(sig.lang_why)
    reasons.extend(f"{INTENT_LABELS[h.intent]}: '{h.match}'" for h in sig.hits)
    if sig.sarcasm:
        reasons.append(f"sarcasm: '{sig.sarcasm}'")
    if ctx.author_recent_posts:
        reasons.append(f"{ordinal(ctx.author_recent_posts + 1)} message in {ctx.thresholds.repeat_window_days} days")
    return reasons


def _result(sig: Signals, t: TriageConfig, outcome: Outcome, probability: float) -> Triage:
    score = max(0, min(100, int(round(outcome.score))))
    priority = outcome.priority or priority_for(score, t)
    needs_reply = score >= t.reply_threshold if outcome.needs_reply is None else outcome.needs_reply
    return Triage(
        score=score,
        priority=priority,
        needs_reply=needs_reply and not outcome.suppress,
        sentiment=sig.sentiment.value,
        sentiment_label=sig.sentiment.label,
        lang=sig.lang,
        intents=sig.intents,
        reasons=tuple(outcome.reasons),
        tags=tuple(outcome.tags),
        channel=outcome.channel,
        suppress=outcome.suppress,
        digest_only=outcome.digest_only,
        model_probability=round(probability, 4),
        rules_fired=tuple(outcome.fired),
    )


_default: Triager | None = None
_default_lock = threading.Lock()
_by_settings: dict[tuple[object, ...], tuple[tuple[object, ...], Triager]] = {}


def default_triager() -> Triager:
    global _default
    with _default_lock:
        if _default is None:
            _default = Triager()
        return _default


def triager_for(config: Config) -> Triager:
    """One Triager per triage setup (languages, floor, rules file, model file): a service
    and its pipelines share it. When the rules or model file changes on disk (its
    modification time), the next call builds a new one, which replaces the old."""
    t = config.triage
    files = [config.resolve_path(v) if v else None for v in (t.rules_file, t.model_path)]
    stamps = tuple((str(f), f.stat().st_mtime_ns if f.exists() else None) for f in files if f is not None)
    setup = (tuple(config.brand.languages), t.language_confidence_floor, t.rules_file, t.model_path)
    with _default_lock:
        stamped, found = _by_settings.get(setup, ((), None))
    if found is None or stamped != stamps:
        found = Triager.from_config(config)
        with _default_lock:
            # one Triager per setup: an edited file replaces the one built from its old version
            stamped, kept = _by_settings.get(setup, ((), None))
            if kept is not None and stamped == stamps:
                return kept
            _by_settings[setup] = (stamps, found)
    return found


def triage(post: Post, ctx: TriageContext) -> Triage:
    return default_triager().triage(post, ctx)
