"""The promise check: what a reply or a statement must not promise without approval.

The list is data (watcher/data/promises.toml): per market language, patterns for each
kind of promise (a date, a refund, compensation, a guarantee, "never again") and why
it needs approval. Every draft and every statement is checked; approving past a
warning needs a reason, which the audit log keeps.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from watcher.core.vocab import MARKET_LANGUAGES


@dataclass(frozen=True, slots=True)
class PromiseFound:
    kind: str  # deadline, refund, compensation, guarantee, never_again
    phrase: str  # the words found in the text
    why: str


@dataclass(frozen=True)
class PromiseList:
    """Compiled patterns per language; load it once and hand it to whoever checks."""

    patterns: dict[str, tuple[tuple[str, re.Pattern[str]], ...]]
    why: dict[str, str]

    @classmethod
    def load(cls, path: Path | None = None) -> PromiseList:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else files("watcher").joinpath("data/promises.toml").read_text(encoding="utf-8")
        )
        data = tomllib.loads(text)
        why = {kind: str(entry["why"]) for kind, entry in data.get("kinds", {}).items()}
        patterns: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
        for lang, kinds in data.items():
            if lang == "kinds":
                continue
            patterns[lang] = tuple((kind, re.compile(p, re.IGNORECASE)) for kind, found in kinds.items() for p in found)
        return cls(patterns=patterns, why=why)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in MARKET_LANGUAGES if lang in self.patterns)

    def check(self, text: str, lang: str) -> list[PromiseFound]:
        """Each promise `text` makes, in its language and in English (brands mix them);
        one finding per kind and phrase, in the order they appear."""
        found: list[tuple[int, int, PromiseFound]] = []
        for language in dict.fromkeys((lang, "en")):
            for kind, pattern in self.patterns.get(language, ()):
                for match in pattern.finditer(text):
                    start, end = match.span()
                    # two patterns of one kind on overlapping words are one finding
                    if any(f.kind == kind and start < e and s < end for s, e, f in found):
                        continue
                    found.append((start, end, PromiseFound(kind, match.group(0).strip(), self.why[kind])))
        return [f for _, _, f in sorted(found, key=lambda t: t[0])]


@cache
def bundled_promises() -> PromiseList:
    """The bundled list (package data: read once, never edited at run time)."""
    return PromiseList.load()


def warning_lines(found: list[PromiseFound]) -> list[str]:
    """One line per finding, for a modal or a refusal."""
    return [f"\u201c{f.phrase}\u201d: {f.why}" for f in found]


def reply_warnings(text: str, lang: str) -> list[str]:
    """The promise check of a single reply draft, one line per phrase found and why."""
    return warning_lines(bundled_promises().check(text, lang or "en"))
