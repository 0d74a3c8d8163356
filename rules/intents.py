"""Intents per language: what a post is about, each with the words that showed it.

The patterns are data, one file per language: rules/data/intents/<lang>.toml (its
header says how to write them), for the market languages in watcher.core.vocab.
They run over `rules.model.normalize(text)` (lower case, no accents, links and user
names replaced). A post is matched against its own language's patterns plus English
(customers mix in English words); a post of unknown language against every language.
rules/scanner.py finds the matches.

Sarcasm (rules/data/intents/sarcasm.toml): a positive word beside a negative event
("great, another delayed parcel", "thanks for nothing") is flagged so praise is not
read as praise.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.scanner import Gate as _Gate  # noqa: F401 (its tests reach it here)
from rules.scanner import GatedSearch as _Gated
from rules.scanner import Scanner, ScannerGroup, problem_with
from watcher.core.config import ConfigError, ConfigProblem, read_toml, unknown_key
from watcher.core.vocab import MARKET_LANGUAGES

# The order is part of the trained models' features (bit_mask): add new intents at the end.
INTENTS = (
    "question",
    "complaint",
    "billing",
    "double_charge",
    "delivery",
    "outage",
    "account_takeover",
    "privacy_breach",
    "safety",
    "legal",
    "press_threat",
    "churn",
    "praise",
    "thanks_close",
    "spam",
)
URGENT_INTENTS = (
    "safety",
    "legal",
    "account_takeover",
    "privacy_breach",
    "double_charge",
    "outage",
    "churn",
    "press_threat",
)
LANGUAGES = MARKET_LANGUAGES
DATA_DIR = Path(__file__).resolve().parent / "data" / "intents"


def bit_mask(names: Iterable[str], order: Sequence[str] = INTENTS) -> int:
    """A set of names (intents by default) as one int, bit i for `order[i]`: what the
    model features and the rules test with a single `&` per post."""
    bits = _bits_of(tuple(order))
    return sum(bits.get(name, 0) for name in set(names))


@functools.lru_cache(maxsize=8)
def _bits_of(order: tuple[str, ...]) -> dict[str, int]:
    return {name: 1 << i for i, name in enumerate(order)}


@dataclass(frozen=True)
class IntentHit:
    intent: str
    lang: str
    match: str


def load_patterns(
    folder: Path = DATA_DIR, languages: Sequence[str] = LANGUAGES
) -> dict[str, dict[str, tuple[str, ...]]]:
    """intent -> language -> its patterns, read from <folder>/<lang>.toml; every intent
    is a key, in INTENTS order. Anything wrong is a ConfigError naming file and table."""
    patterns: dict[str, dict[str, tuple[str, ...]]] = {intent: {} for intent in INTENTS}
    problems: list[ConfigProblem] = []
    for lang in languages:
        path = folder / f"{lang}.toml"
        file = str(path)
        data = read_toml(path, missing=f"no intent patterns for {lang!r}; every market language needs a file")
        for intent, table in data.items():
            if intent not in INTENTS:
                problems.append(ConfigProblem(file, intent, unknown_key(intent, list(INTENTS), "intent")))
                continue
            found = _strings(table, "patterns", file, intent, problems)
            for i, pattern in enumerate(found):
                problem = problem_with(pattern)
                if problem:
                    problems.append(ConfigProblem(file, f"{intent}.patterns[{i}]", f"{pattern!r}: {problem}"))
            patterns[intent][lang] = found
    if problems:
        raise ConfigError(problems)
    return patterns


def _strings(table: Any, key: str, file: str, where: str, problems: list[ConfigProblem]) -> tuple[str, ...]:
    """table[key] as a list of strings, or a problem naming what is wrong."""
    value = table.get(key) if isinstance(table, dict) else None
    if isinstance(table, dict) and set(table) - {key}:
        extra = sorted(set(table) - {key})
        problems.append(ConfigProblem(file, where, f"unknown key(s) {', '.join(extra)}: the table holds {key} only"))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(ConfigProblem(file, where, f"needs {key} = [...], a list of strings"))
        return ()
    return tuple(value)


PATTERNS: Mapping[str, Mapping[str, tuple[str, ...]]] = load_patterns()


def _sarcasm_data(path: Path = DATA_DIR / "sarcasm.toml") -> dict[str, tuple[str, ...]]:
    """The sarcasm file's lists by name ("markers.thanks", ...); a ConfigError if one is missing."""
    data = read_toml(path, missing="the sarcasm patterns are missing")
    problems: list[ConfigProblem] = []
    lists = {
        f"{table}.{key}": _strings({key: data.get(table, {}).get(key)}, key, str(path), f"{table}.{key}", problems)
        for table, keys in (
            ("markers", ("thanks", "for_nothing", "phrases", "symbols", "clues")),
            ("positive_beside_event", ("intents", "positive", "events")),
        )
        for key in keys
    }
    if problems:
        raise ConfigError(problems)
    return lists


def _either(words: Iterable[str]) -> str:
    return "(" + "|".join(words) + ")"


_SARCASM = _sarcasm_data()
_SARCASM_MARKERS_TEXT = (
    f"{_either(_SARCASM['markers.thanks'])} {_either(_SARCASM['markers.for_nothing'])}"
    rf"|\b{_either(_SARCASM['markers.phrases'])}\b|" + "|".join(_SARCASM["markers.symbols"])
)
# Every text a marker can match contains one of these (a test expands the pattern to
# check): most posts have none, and a few substring tests cost less than the search.
MARKER_CLUES = _SARCASM["markers.clues"]
_POSITIVE_TEXT = rf"\b{_either(_SARCASM['positive_beside_event.positive'])}\b"
_NEGATIVE_EVENT_INTENTS = frozenset(_SARCASM["positive_beside_event.intents"])
_NEGATIVE_EVENT_TEXT = rf"\b{_either(_SARCASM['positive_beside_event.events'])}\b"
_SARCASM_MARKERS = _Gated(_SARCASM_MARKERS_TEXT)
_POSITIVE_RE = _Gated(_POSITIVE_TEXT)
_NEGATIVE_EVENT_WORDS = _Gated(_NEGATIVE_EVENT_TEXT)


@functools.cache
def _scanners() -> tuple[dict[str, Scanner], dict[tuple[str, ...], ScannerGroup]]:
    """Each language's scanner, and for the languages a post is matched against (its own
    and English, or all of them) their scanners behind one gate. Made on first use:
    parsing every pattern takes about 0.4 s, which commands that score nothing
    (`watcher queue`, `watcher --help`) need not pay."""
    by_lang = {
        lang: Scanner({intent: by_lang[lang] for intent, by_lang in PATTERNS.items() if lang in by_lang})
        for lang in LANGUAGES
    }
    together = {
        langs: ScannerGroup([by_lang[code] for code in langs])
        for langs in (LANGUAGES, *((lang, "en") for lang in LANGUAGES if lang != "en"))
    }
    return by_lang, together


def prepare_scanners() -> None:
    """Make every language's scanner and compile its intent regexes ahead of the first
    post (a post of an unknown language meets them all); see Scanner.prepare. Once per
    process: later calls find them compiled."""
    for scanner in _scanners()[0].values():
        scanner.prepare()


_RANK = {intent: i for i, intent in enumerate(INTENTS)}  # detect_intents lists hits in INTENTS order


def detect_intents(norm: str, lang: str) -> list[IntentHit]:
    """Every intent found in normalized text, first match per intent; '?' is a question."""
    by_lang, together = _scanners()
    if lang == "en":
        found = by_lang["en"].first_matches(norm)
        codes = dict.fromkeys(found, "en")
    else:
        langs = LANGUAGES if lang not in LANGUAGES else (lang, "en")
        found, codes = {}, {}
        # each intent's match from the first language that has one
        for code, theirs in reversed(list(zip(langs, together[langs].first_matches(norm), strict=True))):
            found.update(theirs)
            codes.update(dict.fromkeys(theirs, code))
    hits = [IntentHit(intent, codes[intent], found[intent]) for intent in sorted(found, key=_RANK.__getitem__)]
    if "question" not in found and "?" in norm:  # a '?' question goes first
        hits.insert(0, IntentHit("question", lang, "?"))
    if "double_charge" in found and "billing" not in found:
        hits.append(IntentHit("billing", lang, found["double_charge"]))
    return hits


def sarcasm(norm: str, intents: Iterable[str]) -> str | None:
    """The words that make a positive phrase read as sarcastic, or None."""
    if any(map(norm.__contains__, MARKER_CLUES)):
        marker = _SARCASM_MARKERS.search(norm)
        if marker:
            return marker
    if _NEGATIVE_EVENT_INTENTS.isdisjoint(intents):  # cheapest test first
        return None
    positive = _POSITIVE_RE.search(norm)
    if positive is None:
        return None
    event = _NEGATIVE_EVENT_WORDS.search(norm)
    return f"{positive} ... {event}" if event is not None else None
