"""The one entry point the watcher calls: `triage(post, ctx) -> Triage`.

Rules know nothing of storage or platform APIs: they see a Post and a
TriageContext (the brand, the thresholds, what is known of the author) and
return a score with the reasons behind it.

How a score is made (each step adds a reason):
1. signals: language (rules/language.py), sentiment (rules/sentiment.py), intents
   and sarcasm (rules/intents.py), all from one hashed view of the text;
2. the learned needs-reply model (rules/needs_reply.py over rules/signals.py's
   columns) turns text + signals into a probability: the base score is 100 x that
   probability;
3. rules (rules/engine.py; loaded by rules/rule_file.py: built-in, then the team's
   file) boost or lower it, set a priority floor, route, tag, suppress or send to the
   digest only.
"""

from __future__ import annotations

import copy
import functools
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rules.engine import AUTHOR_LISTS, PRIORITIES, Facts, FactsBatch, RuleSet
from rules.intents import bit_mask, detect_intents, prepare_scanners, sarcasm
from rules.language import UNKNOWN, LanguageDetector
from rules.model import ModelError, SparseStack, hash_batch
from rules.needs_reply import NeedsReplyModel
from rules.rule_file import load_ruleset
from rules.sentiment import SentimentAnalyzer
from rules.signals import SignalColumns, Signals
from watcher.core.config import ConfigError, ConfigProblem
from watcher.core.post import Author, Post
from watcher.core.settings import BrandConfig, TriageConfig


class TriageSettings(Protocol):
    """What triage reads of the service's config (watcher.config.Config has it)."""

    @property
    def file(self) -> str: ...
    @property
    def brand(self) -> BrandConfig: ...
    @property
    def triage(self) -> TriageConfig: ...
    def resolve_path(self, value: str) -> Path: ...


__all__ = ["PRIORITIES", "Triage", "TriageContext", "Triager", "default_triager", "triage", "triager_for"]

MODEL_HEADROOM = 5  # the model's score range ends this far below urgent_score
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


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


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
        # all a post can need is made here, so that no poll pays for loading: each
        # language's weights stacked, the intent regexes compiled
        for lang in (*self.detector.languages, UNKNOWN):
            self.stack(lang)
        prepare_scanners()

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

    def with_rules(self, rules: RuleSet) -> Triager:
        """This Triager with other rules: the models, their stacks and the language detector
        are shared, not loaded again (an edited rules file, or a team's rules in tests)."""
        found = copy.copy(self)
        found.rules = rules
        return found

    @classmethod
    def from_config(cls, config: TriageSettings) -> Triager:
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
        for sig, ctx, t, intents, probability, value, rules_fired in zip(
            signals,
            contexts,
            thresholds,
            columns.intents,
            probabilities.tolist(),
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
            reasons = [f"needs-reply model {probability:.2f}", mood.why]
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
                    round(probability, 4),  # model_probability
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


def _stamp(path: Path | None) -> tuple[str, int | None] | None:
    """A file's name and modification time (None: no file configured)."""
    if path is None:
        return None
    return str(path), path.stat().st_mtime_ns if path.exists() else None


def triager_for(config: TriageSettings) -> Triager:
    """One Triager per triage setup (languages, floor, rules file, model file): a service
    and its pipelines share it. When the rules or model file changes on disk (its
    modification time), the next call builds a new one, which replaces the old."""
    t = config.triage
    rules_file, model_file = (config.resolve_path(v) if v else None for v in (t.rules_file, t.model_path))
    stamps = (_stamp(rules_file), _stamp(model_file))
    setup = (tuple(config.brand.languages), t.language_confidence_floor, t.rules_file, t.model_path)
    with _default_lock:
        stamped, found = _by_settings.get(setup, ((None, None), None))
    if found is None or stamped != stamps:
        if found is not None and stamped[1] == stamps[1]:  # only the rules changed: the models stay loaded
            found = found.with_rules(load_ruleset(rules_file))
        else:
            found = Triager.from_config(config)
        with _default_lock:
            # one Triager per setup: an edited file replaces the one built from its old version
            stamped, kept = _by_settings.get(setup, ((None, None), None))
            if kept is not None and stamped == stamps:
                return kept
            _by_settings[setup] = (stamps, found)
    return found


def triage(post: Post, ctx: TriageContext) -> Triage:
    return default_triager().triage(post, ctx)
