"""The batch glue after the signals: rule facts built column by column, rules run over row
sets, one Effect per distinct run of fired rules, results built in one pass. Each is checked
against the plain per-post way of doing the same thing."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rules.engine import (
    BIT_COLUMNS,
    STRING_COLUMNS,
    TEXT_COLUMNS,
    Conditions,
    Facts,
    FactsBatch,
    Outcome,
    RuleSet,
    row_list,
    row_set,
)
from rules.rule_file import load_ruleset
from rules.scores import EVIDENCE_CAP, EVIDENCE_SCALE
from rules.signals import SignalColumns, reply_dense_matrix
from rules.triage import (
    INTENT_LABELS,
    MODEL_HEADROOM,
    PostFacts,
    Triage,
    TriageContext,
    Triager,
    ordinal,
    priority_for,
)
from tests.rules.conftest import BRAND, make_post
from watcher.core.post import Metrics, Post, PostKind
from watcher.core.settings import BrandConfig

# every kind of condition, in all / any / none, and rules that read earlier rules' tags and the running score
TEAM_RULES = """
[[rules]]
name = "refund words"
any = { keywords = ["refund", "perché", "@lumo_help"], regex = "\\\\bwtf\\\\b" }
none = { platform = ["reddit"] }
then = { boost = 7, channel = "#care-money", tag = ["money", "billing"] }

[[rules]]
name = "long mentions"
all = { words = { min = 6, max = 40 }, source = ["src-a"], kind = ["mention", "reply"] }
then = { boost = -4, tag = ["long"], reason = "a long one" }

[[rules]]
name = "tagged and scored"
all = { tag = ["money", "praise"], score = { min = 30 } }
then = { min_priority = "high", allow_urgent = true }

[[rules]]
name = "unhappy reach"
all = { sentiment = { max = -0.2 }, followers = { min = 400 }, engagement = { max = 40 } }
any = { verified = true, language = ["en", "it"], author_list = ["vip", "staff"] }
then = { priority = "high", needs_reply = true, tag = ["unhappy"] }

[[rules]]
name = "quiet open case"
all = { mentions_competitor = false, sarcasm = false, open_items = { min = 1 }, repeat = { max = 2 } }
none = { language = ["unknown"], intent = ["spam"] }
then = { digest_only = true, boost = 3 }

[[rules]]
name = "rival talk"
all = { mentions_competitor = true }
then = { channel = "#marketing", tag = ["rival"] }

[[rules]]
name = "low score"
all = { score = { max = 10 } }
then = { priority = "normal", needs_reply = false }
"""

TEXTS = [
    ("my card was charged twice, refund now or I call my lawyer", None),
    ("Il pacco non è ancora arrivato, pessimo servizio, perché?", "it"),
    ("¿Cuándo llega mi pedido? Llevo una semana esperando", None),
    ("great, another delayed parcel 🙄 wtf", None),
    ("thanks, all sorted now!", "en"),
    ("our new plan beats lumo, switch to RivalCo today", "en"),
    ("WIN A FREE PHONE!!! follow and retweet", None),
    ("Die App stürzt ständig ab, seit Tagen kein Login möglich", "de"),
    ("Aplicatia nu functioneaza de doua zile", "ro"),
    ("rivalco is so much better than you, I want a refund", None),
    ("My phone charger caught fire overnight!", None),
    ("qwrtzp xkcd vbnm lorem ipsum dolor", None),
    ("love your new app, amazing work", None),
    ("ask @lumo_help please, where is my order", None),
    ("😡😡😡", None),
    ("", None),
    ("ok", "pt"),
]
HANDLES = ["ann", "BigCustomer", "lumo_anna", "@RivalCo", "bob"]
KINDS = list(PostKind)


def sample_posts() -> list[Post]:
    return [
        make_post(
            text,
            lang=lang,
            handle=HANDLES[i % len(HANDLES)],
            followers=(0, 500, 20_000)[i % 3],
            verified=i % 4 == 0,
            platform=("x", "reddit")[i % 2],
            kind=KINDS[i % len(KINDS)],
            source=("", "src-a")[i % 2],
            metrics=Metrics(likes=7 * i, reposts=i % 3),
        )
        for i, (text, lang) in enumerate(TEXTS * 2)
    ]


def sample_contexts(ctx: TriageContext, n: int) -> list[TriageContext]:
    other = BrandConfig(name="Other", languages=BRAND.languages, competitors=("lumo",))
    strict = replace(ctx.thresholds, urgent_score=90, high_score=70, normal_score=40, reply_threshold=50)
    return [
        replace(
            ctx,
            brand=(BRAND, other)[i % 5 == 4],
            thresholds=(ctx.thresholds, strict)[i % 3 == 2],
            author_recent_posts=(0, 1, 2, 3)[i % 4],
            author_open_items=i % 2,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def team(triager: Triager, tmp_path_factory: pytest.TempPathFactory) -> Triager:
    path = Path(tmp_path_factory.mktemp("rules")) / "team.toml"
    path.write_text(TEAM_RULES, encoding="utf-8")
    custom = triager.with_rules(load_ruleset(path))
    return custom


def test_post_facts_columns_are_those_of_facts_objects(triager: Triager, ctx: TriageContext) -> None:
    posts = sample_posts()
    contexts = sample_contexts(ctx, len(posts))
    signals = triager.signals_many([p.text for p in posts], [p.lang for p in posts])
    batch = PostFacts(posts, signals, contexts, SignalColumns.of(signals))
    plain = FactsBatch([Triager.facts(p, s, c) for p, s, c in zip(posts, signals, contexts, strict=True)])
    names = [*BIT_COLUMNS, *STRING_COLUMNS, *TEXT_COLUMNS, "sentiment", "followers", "verified", "engagement"]
    names += ["repeat", "open_items", "mentions_competitor", "sarcasm"]
    for name in names:
        mine, theirs = batch.column(name), plain.column(name)
        assert list(mine) == list(theirs), name
        assert batch.rows_by_value(name) == plain.rows_by_value(name) if name in BIT_COLUMNS + STRING_COLUMNS else True
    # the sample does exercise the author lists and competitor mentions
    assert set(batch.column("author_lists").tolist()) == {0, 1, 2, 4}
    assert 0 < batch.column("mentions_competitor").sum() < len(posts)
    with pytest.raises(KeyError, match="no rule fact named 'colour'"):
        batch.column("colour")


def test_row_sets() -> None:
    hold = np.array([True, False, False, True] + [False] * 60 + [True, True])
    rows = row_set(hold)
    assert rows == 1 | 1 << 3 | 1 << 64 | 1 << 65
    assert row_list(rows) == [0, 3, 64, 65] == np.flatnonzero(hold).tolist()
    assert row_set(np.zeros(0, dtype=bool)) == 0 and row_list(0) == []


def _holds(conditions: Conditions, facts: Facts, score: float, tags: list[str], *, every: bool) -> bool:
    """A condition block on one post, read straight from the rule file's meaning."""
    found = []
    for key, values in conditions.lists.items():
        if key == "keywords":
            assert conditions.keyword_re is not None
            found.append(
                bool(conditions.keyword_re.search(facts.norm) or conditions.keyword_re.search(facts.text.casefold()))
            )
        elif key == "tag":
            found.append(any(t.casefold() in values for t in tags))
        elif key == "intent":
            found.append(not facts.intents.isdisjoint(values))
        elif key == "author_list":
            found.append(not facts.author_lists.isdisjoint(values))
        else:
            found.append(str(getattr(facts, "lang" if key == "language" else key)).casefold() in values)
    if conditions.regex is not None:
        found.append(bool(conditions.regex.search(facts.text)))
    for key, rng in conditions.ranges.items():
        value = score if key == "score" else float(getattr(facts, key))
        found.append((rng.low is None or value >= rng.low) and (rng.high is None or value <= rng.high))
    for key, flag in conditions.flags.items():
        found.append(bool(getattr(facts, key)) == flag)
    return all(found) if every else any(found)


def _one_post(rules: RuleSet, facts: Facts, outcome: Outcome, floors: dict[str, int], p: float) -> None:
    """The rules on one post, one rule at a time, as docs/triage.md describes them: boosts
    are evidence on the model's logit (EVIDENCE_SCALE points a logit, EVIDENCE_CAP at most),
    allow_urgent boosts are points on top, `priority` places the post in its band by the
    probability, `min_priority` raises it to the band's floor."""
    top = floors["urgent"] - MODEL_HEADROOM
    clipped = min(max(p, 1e-9), 1 - 1e-9)
    logit = math.log(clipped) - math.log1p(-clipped)
    evidence = context = 0.0
    low, high, placed = 0.0, 100.0, False
    outcome.score = p * top
    for rule in rules.rules:
        fires = _holds(rule.all, facts, outcome.score, outcome.tags, every=True)
        if fires and not rule.any.empty:
            fires = _holds(rule.any, facts, outcome.score, outcome.tags, every=False)
        if fires and not rule.none.empty:
            fires = not _holds(rule.none, facts, outcome.score, outcome.tags, every=False)
        if not fires:
            continue
        act = rule.then
        if act.allow_urgent:
            context += act.boost
        else:
            evidence += act.boost
        if act.priority:
            low = floors[act.priority]
            high = min((v for v in floors.values() if v > low), default=101) - 1
            placed = True
        if act.min_priority:
            low = max(low, floors[act.min_priority])
            high = max(high, low)
        if act.boost or act.priority or act.min_priority:
            e = min(max(evidence / EVIDENCE_SCALE, -EVIDENCE_CAP), EVIDENCE_CAP)
            s = p if e == 0 else 1.0 / (1.0 + math.exp(-(logit + e)))
            value = (low + (high - low) * s if placed else top * s) + context
            outcome.score = min(max(value, low), high)
        outcome.act(rule, rule.reason)
    if not outcome.allow_urgent and outcome.priority != "urgent":
        outcome.score = min(outcome.score, floors["urgent"] - 1)


def test_batch_is_the_rules_applied_post_by_post(team: Triager, ctx: TriageContext) -> None:
    posts = sample_posts()
    contexts = sample_contexts(ctx, len(posts))
    results = team.triage_many(posts, contexts)
    signals = team.signals_many([p.text for p in posts], [p.lang for p in posts])
    probabilities = team.model.probabilities(signals).tolist()
    fired_rules = set()
    for post, sig, c, p, got in zip(posts, signals, contexts, probabilities, results, strict=True):
        t = c.thresholds
        floors = {"urgent": t.urgent_score, "high": t.high_score, "normal": t.normal_score, "low": 0}
        outcome = Outcome(score=0.0)
        _one_post(team.rules, Triager.facts(post, sig, c), outcome, floors, p)
        score = max(0, min(100, int(round(outcome.score))))
        needs_reply = score >= t.reply_threshold if outcome.needs_reply is None else outcome.needs_reply
        assert got.rules_fired == tuple(outcome.fired), post.text
        assert got.score == score and got.priority == (outcome.priority or priority_for(score, t))
        assert got.needs_reply == (needs_reply and not outcome.suppress)
        assert (got.tags, got.channel, got.suppress, got.digest_only) == (
            tuple(outcome.tags),
            outcome.channel,
            outcome.suppress,
            outcome.digest_only,
        )
        said = [f"needs-reply model {p:.2f}", sig.sentiment.why, *([sig.lang_why] if sig.lang == "unknown" else [])]
        said += [f"{INTENT_LABELS[h.intent]}: '{h.match}'" for h in sig.hits]
        said += sig.set_aside
        said += [f"sarcasm: '{sig.sarcasm}'"] if sig.sarcasm else []
        n = c.author_recent_posts
        said += [f"{ordinal(n + 1)} message in {t.repeat_window_days} days"] if n else []
        assert got.reasons == (*said, *outcome.reasons)
        assert got.model_probability == round(p, 4) and got.intents == sig.intents
        fired_rules.update(outcome.fired)
    # the sample reaches every team rule, and the ones reading tags and the running score
    assert {r.name for r in team.rules.rules if r.file.endswith("team.toml")} <= fired_rules
    # the rule set's own batch path over Facts objects agrees
    outcomes = [Outcome(score=0.0) for _ in probabilities]
    facts = [Triager.facts(post, sig, ctx) for post, sig in zip(posts, signals, strict=True)]
    floors = {"urgent": 80, "high": 60, "normal": 35, "low": 0}
    team.rules.apply_many(facts, outcomes, probabilities, band_floor=floors)
    for f, p, outcome in zip(facts, probabilities, outcomes, strict=True):
        alone = Outcome(score=0.0)
        _one_post(team.rules, f, alone, floors, p)
        assert outcome.score == pytest.approx(alone.score, abs=1e-9)  # numpy's exp against math's
        assert replace(outcome, score=0.0) == replace(alone, score=0.0)


def test_effects_are_shared_and_results_are_fresh(team: Triager, ctx: TriageContext) -> None:
    posts = [make_post("where is my refund?") for _ in range(3)]
    first, second, third = team.triage_many(posts, [ctx] * 3)
    assert first == second == third and isinstance(first, Triage)
    assert first.tags is second.tags  # one Effect for the same fired rules
    effect = team.rules.effect(())
    assert effect.fired == () and effect.reasons == () and effect.needs_reply is None


def test_reply_dense_matrix_reads_each_post_alone(triager: Triager) -> None:
    texts = [t for t, _ in TEXTS]
    signals = triager.signals_many(texts, [None] * len(texts))
    matrix = reply_dense_matrix(signals)
    assert matrix.dtype == np.float32 and matrix.shape == (len(texts), 15)
    for row, sig in zip(matrix, signals, strict=True):
        assert row.tolist() == reply_dense_matrix([sig])[0].tolist() == sig.reply_dense()
        assert bool(row[3]) == ("question" in sig.intents)
        assert row[0] == np.float32(sig.sentiment.value)


@pytest.mark.parametrize(
    ("handle", "text", "lists", "mentions"),
    [
        ("@BigCustomer", "hello", {"vip"}, False),
        ("LUMO_ANNA", "rivalco does it better", {"staff"}, True),
        ("RivalCo", "rivalco is here", {"competitor"}, False),  # a competitor's own post does not "mention" one
        ("ann", "RivalCo_support said no", set(), True),  # "_" is not part of a word here, as before
        ("ann", "rivalcos are everywhere", set(), False),
        ("", "nothing", set(), False),
    ],
)
def test_author_lists_and_competitor_mentions(
    triager: Triager, ctx: TriageContext, handle: str, text: str, lists: set[str], mentions: bool
) -> None:
    post = make_post(text, handle=handle)
    sig = triager.signals(text)
    facts = Triager.facts(post, sig, ctx)
    assert facts.author_lists == lists and facts.mentions_competitor is mentions
    batch = PostFacts([post], [sig], [ctx], SignalColumns.of([sig]))
    assert batch.column("author_lists").tolist() == FactsBatch([facts]).column("author_lists").tolist()
    assert batch.column("mentions_competitor").tolist() == [float(mentions)]
