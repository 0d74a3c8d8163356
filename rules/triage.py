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

import functools
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rules.engine import AUTHOR_LISTS, PRIORITIES, Facts, FactsBatch, RuleSet, load_ruleset
from rules.intents import URGENT_INTENTS, IntentHit, bit_mask, detect_intents, sarcasm
from rules.language import LanguageDetector
from rules.model import HashedText, LinearModel, ModelError, SparseStack, hash_batch, load_models
from rules.sentiment import DATA_DIR, Sentiment, SentimentAnalyzer
from watcher.config import BrandConfig, ConfigError, ConfigProblem, TriageConfig
from watcher.post import Author, Post

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
_INTENT_BITS: dict[tuple[str, ...], int] = {}  # a post's intents -> their bit_mask, for the few combinations seen


@dataclass(frozen=True)
class SignalColumns:
    """What scoring and the rules read from a batch's signals, gathered in one pass."""

    intents: list[tuple[str, ...]]
    intent_bits: np.ndarray  # int64, bit_mask of each post's intents
    sentiment: np.ndarray  # float64
    sarcasm: np.ndarray  # bool
    dense: np.ndarray  # float32, the needs-reply model's REPLY_DENSE features

    @classmethod
    def of(cls, signals: Sequence[Signals]) -> SignalColumns:
        n = len(signals)
        intents: list[tuple[str, ...]] = []
        bits: list[int] = []
        flat: list[float | bool] = []  # sentiment, negative, positive, sarcasm, emoji < 0, words: per post
        for s in signals:
            names = tuple([h.intent for h in s.hits]) if s.hits else ()
            b = _INTENT_BITS.get(names)
            if b is None:
                b = bit_mask(names)
                if len(_INTENT_BITS) < 4096:
                    _INTENT_BITS[names] = b
            intents.append(names)
            bits.append(b)
            mood = s.sentiment
            label = mood.label
            flat += (
                mood.value,
                label == "negative",
                label == "positive",
                s.sarcasm is not None,
                mood.emoji < 0,
                len(s.hashed.words),
            )
        intent_bits = np.array(bits, dtype=np.int64).reshape(n)
        per_post = np.array(flat, dtype=np.float64).reshape(n, 6)
        sentiment = per_post[:, 0].copy()

        def has(*names: str) -> np.ndarray:
            return (intent_bits & bit_mask(names)) != 0

        dense = np.empty((n, len(REPLY_DENSE)))
        dense[:, 0:3] = per_post[:, 0:3]
        for j, intent in enumerate(_REPLY_INTENTS, start=3):
            dense[:, j] = has(intent)
        dense[:, 8] = has(*URGENT_INTENTS)
        dense[:, 9] = has("praise")
        dense[:, 10] = has("thanks_close")
        dense[:, 11] = has("spam")
        dense[:, 12:14] = per_post[:, 3:5]
        dense[:, 14] = np.log1p(np.ascontiguousarray(per_post[:, 5])) / 4.0
        return cls(intents, intent_bits, sentiment, per_post[:, 3] != 0, dense.astype(np.float32))


def reply_dense_matrix(signals: Sequence[Signals]) -> np.ndarray:
    """The needs-reply model's dense features (REPLY_DENSE, one row per post)."""
    return SignalColumns.of(signals).dense


def priority_for(score: int, thresholds: TriageConfig) -> str:
    if score >= thresholds.urgent_score:
        return "urgent"
    if score >= thresholds.high_score:
        return "high"
    if score >= thresholds.normal_score:
        return "normal"
    return "low"


@functools.lru_cache(maxsize=64)
def _priorities(urgent: int, high: int, normal: int) -> tuple[str, ...]:
    """The priority of each score 0-100 for these bands: looked up rather than worked out per post."""
    t = TriageConfig(urgent_score=urgent, high_score=high, normal_score=normal)
    return tuple(priority_for(score, t) for score in range(101))


def rounded(values: np.ndarray, digits: int) -> list[float]:
    """`round(v, digits)` of each value in [0, 1] (Python's: correctly rounded, half to even)
    without a Python call per value. Scaling first and rounding in numpy gives the same
    whole number except within a hair of a half-way point, where Python's round decides."""
    whole, unsure = _scaled_round(values, digits)
    out = (whole / 10.0**digits).tolist()
    for i in np.flatnonzero(unsure).tolist():
        out[i] = round(float(values[i]), digits)
    return out


_MODEL_REASONS = tuple(f"needs-reply model {k // 100}.{k % 100:02d}" for k in range(101))


def model_reasons(probabilities: np.ndarray) -> list[str]:
    """f"needs-reply model {p:.2f}" for each probability, from a table of the 101 possible texts."""
    whole, unsure = _scaled_round(probabilities, 2)
    out = [_MODEL_REASONS[k] for k in np.where(unsure, 0.0, whole).astype(np.int64).tolist()]
    for i in np.flatnonzero(unsure).tolist():
        out[i] = f"needs-reply model {probabilities[i]:.2f}"
    return out


def _scaled_round(values: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """(values x 10**digits rounded half to even, where that may not be the exact decimal
    rounding): a product is off by at most 1e-12 for values in [0, 1], so only one that
    lands within 1e-6 of a half-way point (or outside [0, 1]) is unsure."""
    scaled = values * 10.0**digits
    whole = np.rint(scaled)
    unsure = (np.abs(np.abs(scaled - whole) - 0.5) < 1e-6) | ~((values >= 0.0) & (values <= 1.0))
    return whole, unsure


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

    def probabilities(self, signals: Sequence[Signals], *, dense: np.ndarray | None = None) -> np.ndarray:
        """P(needs reply) for each post, the models applied to the whole batch at once;
        `dense` is `reply_dense_matrix(signals)` if the caller has it already."""
        if dense is None:
            dense = reply_dense_matrix(signals)
        z = self.base_logits(signals, dense)
        if self.team is not None:
            hashed = _text_part(self.team, signals)
            z = self.team.combine(hashed, np.hstack([dense, z[:, None].astype(np.float32)]))[:, 0]
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))))

    def base_logits(self, signals: Sequence[Signals], dense: np.ndarray) -> np.ndarray:
        """The default (or signals-only) model's logit per post; `dense` is `reply_dense_matrix(signals)`."""
        if self.default is None:
            return _prior_logits(dense)
        text = np.fromiter((self.uses_text(s.lang) for s in signals), dtype=bool, count=len(signals))
        if text.all():
            return self.default.combine(_text_part(self.default, signals), dense)[:, 0]
        z = np.zeros(len(signals))
        if text.any():
            rows = [s for s, t in zip(signals, text.tolist(), strict=True) if t]
            z[text] = self.default.combine(_text_part(self.default, rows), dense[text])[:, 0]
        if self.signals_only is not None:
            z[~text] = self.signals_only.combine(np.zeros((int((~text).sum()), 1)), dense[~text])[:, 0]
        return z


def _text_part(model: LinearModel, signals: Sequence[Signals]) -> np.ndarray:
    """The hashed part of `model`'s logits for each post: from the batch product when
    there was one (one row pick per product), else from the post's own features."""
    key = id(model)
    picks: dict[int, tuple[np.ndarray, list[int], list[int]]] = {}  # product -> (it, posts, its rows)
    alone: list[int] = []
    for i, s in enumerate(signals):
        batch, row = s.text_logits
        found = batch.get(key)
        if found is None:
            alone.append(i)
            continue
        pick = picks.get(id(found))
        if pick is None:
            pick = picks[id(found)] = (found, [], [])
        pick[1].append(i)
        pick[2].append(row)
    if not alone and len(picks) == 1:
        found, _, rows = next(iter(picks.values()))
        return found[rows]
    parts = [(found[rows], posts) for found, posts, rows in picks.values()]
    if alone:
        parts.append((model.hashed_logits([signals[i].hashed for i in alone]), alone))
    if not parts:
        return np.zeros((0, len(model.bias)))
    stacked = np.concatenate([part for part, _ in parts])
    out = np.empty_like(stacked)
    out[[i for _, posts in parts for i in posts]] = stacked
    return out


_PRIOR = (  # REPLY_DENSE feature -> weight in the prior blend
    ("sentiment", -1.5),
    ("question", 1.2),
    ("complaint", 1.2),
    ("delivery", 0.8),
    ("urgent", 1.0),
    ("spam", -1.5),
    ("thanks_close", -1.0),
)


def _prior_logits(dense: np.ndarray) -> np.ndarray:
    """Without a trained model file: a transparent hand-set blend of the signals."""
    d = dense.astype(np.float64)
    z = np.full(len(d), -1.0)
    for name, weight in _PRIOR:
        column = d[:, REPLY_DENSE.index(name)]
        z = z + weight * column  # the same float as subtracting |weight| * column
    return z


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
        columns = SignalColumns.of(signals)
        probabilities = self.model.probabilities(signals, dense=columns.dense)
        thresholds = [ctx.thresholds for ctx in contexts]
        # The model alone tops out below the urgent band: "urgent" is for what a rule
        # names (safety, legal, takeover...) or a pile-up of context, not for a
        # confidently ordinary complaint.
        score = probabilities * np.fromiter(
            (t.urgent_score - MODEL_HEADROOM for t in thresholds), dtype=np.float64, count=len(posts)
        )
        fired = self._fire_rules(PostFacts(posts, signals, contexts, columns), score, thresholds)
        effect = self.rules.effect
        bands: dict[int, tuple[str, ...]] = {}  # id(thresholds) -> priority of each score 0-100
        out = []
        for sig, ctx, t, intents, model_reason, probability, value, rules_fired in zip(
            signals,
            contexts,
            thresholds,
            columns.intents,
            model_reasons(probabilities),
            rounded(probabilities, 4),
            score.tolist(),
            fired,
            strict=True,
        ):
            e = effect(tuple(rules_fired))
            if not e.allow_urgent and e.priority != "urgent":
                value = min(value, t.urgent_score - 1)
            points = max(0, min(100, int(round(value))))
            needs_reply = points >= t.reply_threshold if e.needs_reply is None else e.needs_reply
            priority = e.priority
            if not priority:
                table = bands.get(id(t))
                if table is None:
                    table = bands[id(t)] = _priorities(t.urgent_score, t.high_score, t.normal_score)
                priority = table[points]
            mood = sig.sentiment
            reasons = [model_reason, mood.why]
            if sig.lang == "unknown":
                reasons.append(sig.lang_why)
            for h in sig.hits:
                reasons.append(f"{INTENT_LABELS[h.intent]}: '{h.match}'")
            if sig.sarcasm:
                reasons.append(f"sarcasm: '{sig.sarcasm}'")
            if ctx.author_recent_posts:
                reasons.append(_repeat_reason(ctx.author_recent_posts, t.repeat_window_days))
            out.append(
                Triage(  # positional, in field order: a Triage per post, and keywords cost twice as much
                    points,  # score
                    priority,  # priority
                    needs_reply and not e.suppress,  # needs_reply
                    mood.value,  # sentiment
                    mood.label,  # sentiment_label
                    sig.lang,  # lang
                    intents,  # intents
                    (*reasons, *e.reasons),  # reasons: the signals', then each fired rule's
                    e.tags,  # tags
                    e.channel,  # channel
                    e.suppress,  # suppress
                    e.digest_only,  # digest_only
                    probability,  # model_probability
                    e.fired,  # rules_fired
                )
            )
        return out

    def _fire_rules(self, facts: PostFacts, score: np.ndarray, thresholds: Sequence[TriageConfig]) -> list[list[int]]:
        """Run the rules over the batch, updating `score`; per post, the rules that fired
        (indices into self.rules, in order). Posts are grouped by their priority bands."""
        rules = self.rules
        by_bands: dict[tuple[int, int, int], list[int]] = {}
        for i, t in enumerate(thresholds):
            by_bands.setdefault((t.urgent_score, t.high_score, t.normal_score), []).append(i)
        fired: list[list[int]] = [[] for _ in thresholds]
        # a rule asking for tags sees those of the rules fired before it; none do by default
        tags: list[tuple[str, ...]] = [()] * len(thresholds)
        reads_tags = rules.reads_tags
        for (urgent, high, normal), members in by_bands.items():
            floors = {"urgent": urgent, "high": high, "normal": normal, "low": 0}
            rows = None if len(by_bands) == 1 else members
            for k, hit in rules.fire(facts, score, tags, band_floor=floors, rows=rows):
                for r in hit:
                    fired[r].append(k)
                    if reads_tags:
                        tags[r] = rules.effect(tuple(fired[r])).tags
        return fired

    @staticmethod
    def facts(post: Post, sig: Signals, ctx: TriageContext) -> Facts:
        accounts = _brand_accounts(ctx.brand)
        on_lists = _author_bits(accounts, post.author)
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
            author_lists=frozenset(name for name in AUTHOR_LISTS if on_lists & _LIST_BIT[name]),
            mentions_competitor=_mentions_competitor(accounts, on_lists, post.text),
            sarcasm=sig.sarcasm is not None,
        )


class PostFacts(FactsBatch):
    """A batch's rule facts (the same as `Triager.facts` gives one post) built column by
    column straight from the posts, their signals and contexts, each on first use: no
    Facts object per post."""

    def __init__(
        self,
        posts: Sequence[Post],
        signals: Sequence[Signals],
        contexts: Sequence[TriageContext],
        columns: SignalColumns,
    ) -> None:
        super().__init__(size=len(posts))
        self.posts = posts
        self.signals = signals
        self.contexts = contexts
        self._columns.update(intents=columns.intent_bits, sentiment=columns.sentiment)
        self._sarcasm = columns.sarcasm

    def build(self, name: str) -> Any:
        posts, signals, n = self.posts, self.signals, self.size
        if name == "text":
            return [p.text for p in posts]
        if name == "norm":
            return [s.hashed.norm for s in signals]
        if name == "tokens":
            return [s.hashed.words for s in signals]
        if name == "lang":
            return np.asarray([s.lang.casefold() for s in signals], dtype=object)
        if name in ("platform", "source", "kind"):
            return np.asarray([str(getattr(p, name)).casefold() for p in posts], dtype=object)
        if name in ("author_lists", "mentions_competitor"):
            bits, mentions = self._author_columns()
            self._columns["author_lists"], self._columns["mentions_competitor"] = bits, mentions
            return bits if name == "author_lists" else mentions
        if name == "sarcasm":
            return self._sarcasm.astype(np.float64)
        if name == "followers":
            return np.array([p.author.followers for p in posts], dtype=np.float64).reshape(n)
        if name == "verified":
            return np.array([p.author.verified for p in posts], dtype=np.float64).reshape(n)
        if name == "engagement":
            return np.array([p.metrics.engagement for p in posts], dtype=np.float64).reshape(n)
        if name == "repeat":
            return np.array([c.author_recent_posts for c in self.contexts], dtype=np.float64).reshape(n)
        if name == "open_items":
            return np.array([c.author_open_items for c in self.contexts], dtype=np.float64).reshape(n)
        raise KeyError(f"no rule fact named {name!r}")

    def _author_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """The author's lists (bit mask over AUTHOR_LISTS) and whether the post names a competitor."""
        bits = [0] * self.size
        mentions = [0.0] * self.size
        # the contexts hold their brands for the whole batch, so their ids stay theirs
        brands = {id(brand): _brand_accounts(brand) for brand in {id(c.brand): c.brand for c in self.contexts}.values()}
        if not any(accounts.lists or accounts.rivals for accounts in brands.values()):
            return np.zeros(self.size, dtype=np.int64), np.zeros(self.size)
        for i, (post, ctx) in enumerate(zip(self.posts, self.contexts, strict=True)):
            accounts = brands[id(ctx.brand)]
            if accounts.lists or accounts.rivals:
                bits[i] = on_lists = _author_bits(accounts, post.author)
                mentions[i] = float(_mentions_competitor(accounts, on_lists, post.text))
        return np.asarray(bits, dtype=np.int64), np.asarray(mentions, dtype=np.float64)


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


_LIST_BIT = {name: bit_mask((name,), AUTHOR_LISTS) for name in AUTHOR_LISTS}


def _author_bits(accounts: BrandAccounts, author: Author) -> int:
    """The brand's lists (vip, staff, competitor) the author is on, by id or handle, as a
    bit mask over AUTHOR_LISTS."""
    bits = 0
    if accounts.lists:
        user_id = author.id.casefold()
        handle = author.handle.lstrip("@").casefold()
        for name, members in accounts.lists:
            if (user_id and user_id in members) or (handle and handle in members):
                bits |= _LIST_BIT[name]
    return bits


def _mentions_competitor(accounts: BrandAccounts, author_bits: int, text: str) -> bool:
    """Whether a post not written by a competitor names one as a word."""
    if not accounts.rivals or author_bits & _LIST_BIT["competitor"]:
        return False
    folded = text.casefold()
    return any(_word_in(r, folded) for r in accounts.rivals if r in folded)  # `in` first: most posts name none


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


@functools.lru_cache(maxsize=256)
def _repeat_reason(recent_posts: int, window_days: int) -> str:
    return f"{ordinal(recent_posts + 1)} message in {window_days} days"


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
