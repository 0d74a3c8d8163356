"""When an intent's words count: urgent words only in context.

A keyword alone lifted a post into the urgent band: "fire" in "our new sales lead is
on fire this week", "court" in a news item, "hacked" in a post about the news. An
urgent intent now counts only if the post speaks of the author or to the brand, its
words are not negated, and they are not part of an idiom or another sense. Praise and
thanks are checked for negation too ("not impressed"), and promo words in a question
about the author's own order are not spam ("my discount code says invalid, why?").

The word lists are data, per language: rules/data/context.toml (its header says how
to write them). A post is checked against its own language's lists and English's.
Every hit set aside says why, so the card shows it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rules.intents import URGENT_INTENTS, IntentHit
from watcher.core.config import ConfigError, ConfigProblem, read_toml
from watcher.core.vocab import MARKET_LANGUAGES

CONTEXT_FILE = Path(__file__).resolve().parent / "data" / "context.toml"
NEGATION_WINDOW = 3  # words before a match in which a negator undoes it
# churn and takeover patterns hold their own negation ("never buying again", "wasn't me")
NEGATABLE = frozenset((*URGENT_INTENTS, "praise", "thanks_close")) - {"churn", "account_takeover"}
# a single noun ("fire", "court", "journalist") may be about anything: these intents count
# only in a post about the author's own experience or addressed to us; the others' patterns
# already describe one ("charged me twice", "can't log in", "switching to")
FIRST_HAND = frozenset(("safety", "legal", "press_threat", "privacy_breach"))
_KEYS = ("person", "negators", "other_senses")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@dataclass(frozen=True)
class LanguageContext:
    person: re.Pattern[str]
    negators: re.Pattern[str]
    other_senses: re.Pattern[str] | None


def _whole(patterns: Sequence[str]) -> re.Pattern[str]:
    # (?<!\w) rather than \b: '@user' starts with a character that is not a word character
    return re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?!\w)")


@functools.cache
def load_context(path: Path = CONTEXT_FILE) -> dict[str, LanguageContext]:
    """Each market language's lists; a ConfigError naming file and key if one is wrong."""
    data = read_toml(path, missing="the context word lists are missing")
    problems: list[ConfigProblem] = []
    found: dict[str, LanguageContext] = {}
    for lang in MARKET_LANGUAGES:
        table = data.get(lang)
        if not isinstance(table, dict):
            problems.append(ConfigProblem(str(path), lang, "missing: every market language needs a table"))
            continue
        lists: dict[str, list[str]] = {}
        for key in _KEYS:
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(ConfigProblem(str(path), f"{lang}.{key}", "needs a list of non-empty strings"))
                value = []
            lists[key] = value
            for i, pattern in enumerate(value):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    problems.append(ConfigProblem(str(path), f"{lang}.{key}[{i}]", f"{pattern!r}: {exc}"))
        for key in sorted(set(table) - set(_KEYS)):
            problems.append(ConfigProblem(str(path), f"{lang}.{key}", f"unknown key; the keys are {', '.join(_KEYS)}"))
        if not problems:
            found[lang] = LanguageContext(
                _whole(lists["person"] or ["@user"]),
                _whole(lists["negators"] or ["no"]),
                _whole(lists["other_senses"]) if lists["other_senses"] else None,
            )
    if problems:
        raise ConfigError(problems)
    return found


def _tables(lang: str) -> list[LanguageContext]:
    tables = load_context()
    return [tables[code] for code in dict.fromkeys((lang, "en")) if code in tables]


def _negated(norm: str, start: int, negators: re.Pattern[str]) -> str | None:
    before = _WORD.findall(norm[:start])[-NEGATION_WINDOW:]
    return next((w for w in before if negators.fullmatch(w)), None)


def in_context(norm: str, lang: str, hits: Sequence[IntentHit]) -> tuple[tuple[IntentHit, ...], tuple[str, ...]]:
    """The hits that count, and a reason for each set aside."""
    tables = _tables(lang if lang in MARKET_LANGUAGES else "en")
    if not tables:
        return tuple(hits), ()
    kept: list[IntentHit] = []
    aside: list[str] = []
    person = any(t.person.search(norm) for t in tables)
    names = {h.intent for h in hits}
    for hit in hits:
        why = _set_aside(norm, hit, tables, person, names)
        if why:
            aside.append(f"'{hit.match}' not counted: {why}")
        else:
            kept.append(hit)
    return tuple(kept), tuple(aside)


def _set_aside(
    norm: str, hit: IntentHit, tables: Sequence[LanguageContext], person: bool, names: set[str]
) -> str | None:
    start = norm.find(hit.match)
    if start < 0 or hit.match == "?":
        return None
    end = start + len(hit.match)
    if hit.intent == "spam":
        # promo words in a question about the author's own order are a customer's question
        if "question" in names and "http" not in norm and _person_outside(norm, start, end, tables):
            return "a question about the author's own order"
        return None
    if hit.intent in URGENT_INTENTS or hit.intent in NEGATABLE:
        for t in tables:
            if t.other_senses is not None:
                for m in t.other_senses.finditer(norm):
                    if m.start() <= start < m.end() or start <= m.start() < end:
                        return f"another sense ('{m.group(0)}')"
        if hit.intent in NEGATABLE:
            for t in tables:
                word = _negated(norm, start, t.negators)
                if word:
                    return f"negated ('{word}')"
    if hit.intent in FIRST_HAND and not person:
        return "the post is not about the author nor to us"
    return None


def _person_outside(norm: str, start: int, end: int, tables: Sequence[LanguageContext]) -> bool:
    rest = (norm[:start] + " " + norm[end:]).replace("@user", " ")  # a reply to us is not enough
    return any(t.person.search(rest) for t in tables)
