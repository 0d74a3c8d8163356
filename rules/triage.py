"""The one entry point the watcher calls: `triage(post, ctx) -> Triage`.

Rules know nothing of storage or platform APIs: they see a Post and a
TriageContext (the brand, the thresholds, what is known of the author) and
return a score with the reasons behind it.

How a score is made (each step adds a reason):
1. signals: language (rules/language.py), sentiment (rules/sentiment.py), intents
   and sarcasm (rules/intents.py), all from one hashed view of the text;
2. the learned needs-reply model (rules/needs_reply.py over rules/signals.py's
   columns) turns text + signals into a probability: the base score is
   (urgent_score - MODEL_HEADROOM) x that probability;
3. rules (rules/engine.py; loaded by rules/rule_file.py: built-in, then the team's
   file) add bounded evidence to the model's logit (rules/scores.py), set a priority,
   route, tag, suppress or send to the digest only.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from rules.context import in_context
from rules.engine import Facts, RuleSet
from rules.facts import PostFacts, TriageContext, post_facts
from rules.intents import detect_intents, prepare_scanners, sarcasm
from rules.language import UNKNOWN, LanguageDetector
from rules.model import ModelError, SparseStack, hash_batch
from rules.needs_reply import NeedsReplyModel
from rules.rule_file import load_ruleset
from rules.scores import MODEL_HEADROOM, Scores
from rules.sentiment import SentimentAnalyzer
from rules.signals import SignalColumns, Signals
from watcher.core.config import ConfigError, ConfigProblem
from watcher.core.post import Post
from watcher.core.settings import BrandConfig, TriageConfig
from watcher.core.vocab import MARKET_LANGUAGES, Priority


class TriageSettings(Protocol):
    """What triage reads of the service's config (watcher.config.Config has it)."""

    @property
    def file(self) -> str: ...
    @property
    def brand(self) -> BrandConfig: ...
    @property
    def triage(self) -> TriageConfig: ...
    def resolve_path(self, value: str) -> Path: ...


__all__ = ["MODEL_HEADROOM", "PostFacts", "Triage", "TriageContext", "Triager", "priority_for"]

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
        return Priority.URGENT.value
    if score >= thresholds.high_score:
        return Priority.HIGH.value
    if score >= thresholds.normal_score:
        return Priority.NORMAL.value
    return Priority.LOW.value


def _priorities(thresholds: TriageConfig) -> tuple[str, ...]:
    """The priority of each score 0-100 for these bands (a batch looks them up per post)."""
    return tuple(priority_for(score, thresholds) for score in range(101))


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Triager:
    """Loads its models once; `triage` is then pure and thread-safe. Whoever scores
    (the service, a CLI command) builds one and hands it to its parts: an edited rules or
    model file is read by the next one built (for the service, on restart)."""

    def __init__(
        self,
        *,
        languages: Sequence[str] = MARKET_LANGUAGES,
        language_floor: float = 0.5,
        rules: RuleSet | None = None,
        model_path: Path | None = None,
        second_stage: bool = True,
    ) -> None:
        self.detector = LanguageDetector(tuple(languages), floor=language_floor)
        self.sentiment = SentimentAnalyzer(second_stage=second_stage)
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
                second_stage=t.sentiment_second_stage,
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
                hits, aside = in_context(x.norm, lang, detect_intents(x.norm, lang))
                irony = sarcasm(x.norm, (h.intent for h in hits))
                if irony:
                    hits = tuple(h for h in hits if h.intent != "praise")
                    if mood.value > -0.3:
                        mood = mood.read_as_negative(floor=-0.3)
                found[i] = Signals(x, lang, detected[i].why, mood, hits, irony, (parts, row), aside)
            start = stop
        return [found[i] for i in range(len(texts))]

    def triage(self, post: Post, ctx: TriageContext) -> Triage:
        return self.triage_many([post], [ctx])[0]

    def triage_many(self, posts: Sequence[Post], contexts: Sequence[TriageContext]) -> list[Triage]:
        """One Triage per post, in order: the same as `triage` for each, computed for the batch at once."""
        return self.triage_many_each(posts, contexts, [self.rules])[0]

    def triage_many_each(
        self, posts: Sequence[Post], contexts: Sequence[TriageContext], rulesets: Sequence[RuleSet]
    ) -> list[list[Triage]]:
        """`triage_many` under each rule set, the texts read once (`watcher rules test`
        compares the rules in use with a candidate on the same posts)."""
        if len(posts) != len(contexts):
            raise ValueError(f"{len(posts)} posts but {len(contexts)} contexts")
        if not posts:
            return [[] for _ in rulesets]
        signals = self.signals_many([p.text for p in posts], [p.lang for p in posts])
        columns = SignalColumns.of(signals)
        probabilities = self.model.probabilities(signals, dense=columns.dense)
        thresholds = [ctx.thresholds for ctx in contexts]
        # The model alone tops out below the urgent band: "urgent" is for what a rule
        # names (safety, legal, takeover...) or a pile-up of context, not for a
        # confidently ordinary complaint.
        top = np.fromiter((t.urgent_score - MODEL_HEADROOM for t in thresholds), dtype=np.float64, count=len(posts))
        return [
            self.with_rules(rules)._decide(posts, contexts, signals, columns, probabilities, Scores(probabilities, top))
            for rules in rulesets
        ]

    def _decide(
        self,
        posts: Sequence[Post],
        contexts: Sequence[TriageContext],
        signals: list[Signals],
        columns: SignalColumns,
        probabilities: np.ndarray,
        scores: Scores,
    ) -> list[Triage]:
        """The rules over the read posts (updating `scores`), then each post's Triage."""
        thresholds = [ctx.thresholds for ctx in contexts]
        fired = self._fire_rules(PostFacts(posts, signals, contexts, columns), scores, thresholds)
        effect = self.rules.effect
        bands: dict[int, tuple[str, ...]] = {}  # id(thresholds) -> priority of each score 0-100
        out = []
        for sig, ctx, t, intents, probability, value, rules_fired in zip(
            signals,
            contexts,
            thresholds,
            columns.intents,
            probabilities.tolist(),
            scores.points.tolist(),
            fired,
            strict=True,
        ):
            e = effect(tuple(rules_fired))
            if not e.allow_urgent and e.priority != "urgent" and value > t.urgent_score - 1:
                value = _below_urgent(probability, t)
            points = max(0, min(100, int(round(value))))
            needs_reply = points >= t.reply_threshold if e.needs_reply is None else e.needs_reply
            priority = e.priority
            if not priority:
                table = bands.get(id(t))
                if table is None:
                    table = bands[id(t)] = _priorities(t)
                priority = table[points]
            mood = sig.sentiment
            reasons = [f"needs-reply model {probability:.2f}", mood.why]
            if sig.lang == "unknown":
                reasons.append(sig.lang_why)
            for h in sig.hits:
                reasons.append(f"{INTENT_LABELS[h.intent]}: '{h.match}'")
            reasons += sig.set_aside
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

    def _fire_rules(self, facts: PostFacts, scores: Scores, thresholds: Sequence[TriageConfig]) -> list[list[int]]:
        """Run the rules over the batch, updating `scores`; per post, the rules that fired
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
            for k, hit in rules.fire(facts, scores, tags, band_floor=floors, rows=rows):
                for r in hit:
                    fired[r].append(k)
                    if reads_tags:
                        tags[r] = rules.effect(tuple(fired[r])).tags
        return fired

    @staticmethod
    def facts(post: Post, sig: Signals, ctx: TriageContext) -> Facts:
        return post_facts(post, sig, ctx)


def _below_urgent(probability: float, thresholds: TriageConfig) -> float:
    """A score past the urgent band that no rule allows there: spread over the top of the
    high band by the model's probability, so such posts do not all tie at urgent_score - 1."""
    top = thresholds.urgent_score - 1
    return top - (1.0 - probability) * (top - thresholds.high_score) / 2


def _repeat_reason(recent_posts: int, window_days: int) -> str:
    return f"{ordinal(recent_posts + 1)} message in {window_days} days"
