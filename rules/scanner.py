"""Finding which of many regex alternatives match a text, fast: the intent scanner.

`Scanner` holds each intent's alternatives and gives, per intent, its leftmost match
(what `re.search` over the intent's alternatives would give), trying alternatives only
at the word boundaries where one can start; `ScannerGroup` scans once for several
scanners; `GatedSearch` is one pattern's `search` behind the same kind of gate.
tests/rules/test_intents_reference.py holds them to plain `re.search`.

The hot path of triage (bench/ingest.py, bench/triage_speed.py): a post meets every
alternative of its language and English, a few hundred in all.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

# Which characters an alternative can start with needs the regex parsed, and the
# stdlib has no public parser: sre_parse is deprecated (3.11), re._parser is its home.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")


def _compile(parts: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b")


PREFIX_CHARS = 4  # how far ahead of a position its candidate alternatives are picked
GATE_CHARS = 6  # how far the gate in front of the scanners looks (a longer look lets fewer positions through)


def start_strings(items: Any, n: int = PREFIX_CHARS) -> frozenset[str]:
    """Strings of up to `n` characters that a match of a parsed regex must start with
    (a superset); a string shorter than `n` means "then anything", "" means no constraint."""
    if n == 0:
        return frozenset({""})
    for i, (op, av) in enumerate(items):
        rest = list(items[i + 1 :])
        if op is _c.AT or op is _c.ASSERT or op is _c.ASSERT_NOT:
            continue  # zero-width: look at what follows
        if op is _c.LITERAL:
            return frozenset(chr(av) + p for p in start_strings(rest, n - 1))
        if op is _c.IN:
            if any(kind is not _c.LITERAL for kind, _ in av):
                return frozenset({""})
            after = start_strings(rest, n - 1)
            return frozenset(chr(v) + p for _, v in av for p in after)
        if op is _c.SUBPATTERN:
            return start_strings(list(av[-1]) + rest, n)
        if op is _c.BRANCH:
            return frozenset().union(*(start_strings(list(branch) + rest, n) for branch in av[1]))
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            low, _, sub = av
            # what follows one repetition is unknown (another one, or the rest): stop there
            once = start_strings(list(sub), n)
            return once | start_strings(rest, n) if low == 0 else once
        return frozenset({""})
    return frozenset({""})


class Gate:
    """Finds the word boundaries where one of `prefixes` starts: the C regex engine then
    skips the word starts where no alternative can match.

    Every prefix starts with a word character (all intent alternatives do, and one
    that does not is refused here), so such a boundary is a position just
    after a non-word character or at the start: the scan runs over " " + text with a
    regex starting with \\W, and the engine jumps from one non-word character to the
    next in C instead of trying every position. A match there at index i is position i
    of the text itself."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        found = set(prefixes)
        odd = sorted(p for p in found if not _WORD_CHAR.match(p))  # "" too: an alternative that can start anywhere
        if odd or not found:
            raise ValueError(f"intent alternatives must start with a word character, not as {odd!r} (or be none)")
        self.regex, self.pad = re.compile(r"\W(?=" + trie(found) + ")"), " "
        # on ASCII text, ASCII classes are the same classes, tested by a table lookup
        self.ascii = re.compile(self.regex.pattern, re.ASCII)

    def positions(self, text: str) -> Iterator[re.Match[str]]:
        """One match per position found, at that position (`.start()`)."""
        return (self.ascii if text.isascii() else self.regex).finditer(self.pad + text)


_WORD_CHAR = re.compile(r"\w")


def trie(strings: set[str]) -> str:
    """One regex for a set of literal strings, branching on one character at a time
    (the regex engine skips a branch on its first character without entering it).
    A string that is a prefix of others stands for them all ("then anything")."""
    by_first: dict[str, set[str]] = {}
    for text in strings:
        by_first.setdefault(text[0], set()).add(text[1:])
    branches = []
    for first, tails in sorted(by_first.items()):
        if "" in tails:
            branches.append(re.escape(first))
        else:
            branches.append(re.escape(first) + "(?:" + trie(tails) + ")")
    return "|".join(branches)


def _group(intent: str, alternatives: Iterable[str]) -> str:
    return f"(?P<{intent}>(?:{'|'.join(alternatives)})\\b)"


class Scanner:
    """Each intent's alternatives (one language's), looked for only where they can start.

    A gate regex (C) finds the word boundaries followed by the first characters of
    some alternative (see `start_strings`). There, the next few characters pick, from a
    cache, one small regex holding just the alternatives that can start with them,
    grouped by intent in the order given: the first intent matching there is captured,
    and the other candidate intents are asked at the same position directly (rare:
    a couple of hits per post). Same hits as one `search` per intent, many times faster."""

    def __init__(self, patterns: Mapping[str, Sequence[str]]) -> None:
        # (intent, alternative) in the order given, and which of them each prefix allows
        self.alternatives: list[tuple[str, str]] = []
        self.by_prefix: dict[str, list[int]] = {}
        self.gate_prefixes: set[str] = set()
        for intent, alternatives in patterns.items():
            for alternative in alternatives:
                parsed = list(_parser.parse(alternative))
                for prefix in start_strings(parsed):
                    self.by_prefix.setdefault(prefix, []).append(len(self.alternatives))
                self.gate_prefixes |= start_strings(parsed, GATE_CHARS)
                self.alternatives.append((intent, alternative))
        self.gate = Gate(self.gate_prefixes)
        self._at: dict[str, Candidates] = {}
        # the candidates of each set of alternatives: many texts ahead share one set
        self._by_ids: dict[tuple[int, ...], Candidates] = {}

    def prepare(self) -> None:
        """Compile every set of candidates a position can meet, now rather than when a
        post first needs it (loading, not scoring: a first poll used to pay for hundreds
        of regex compilations). Each set is that of a prefix in `by_prefix` (the longest
        one a text ahead starts with), or the empty one."""
        for prefix in ("", *self.by_prefix):
            self.candidates_at(prefix)

    def candidates_at(self, ahead: str) -> Candidates:
        """The regexes for a position followed by `ahead`: every intent's alternatives
        together (first intent wins), and each intent's own."""
        found = self._at.get(ahead)
        if found is not None:
            return found
        ids = tuple(sorted({i for k in range(len(ahead) + 1) for i in self.by_prefix.get(ahead[:k], ())}))
        found = self._by_ids.get(ids)
        if found is None:
            found = self._by_ids[ids] = self._compile_candidates(ids)
        if len(self._at) > 50_000:
            self._at.clear()
        self._at[ahead] = found
        return found

    def _compile_candidates(self, ids: tuple[int, ...]) -> Candidates:
        by_intent: dict[str, list[str]] = {}
        for i in ids:
            intent, alternative = self.alternatives[i]
            by_intent.setdefault(intent, []).append(alternative)
        together = (
            re.compile(r"\b(?:" + "|".join(_group(i, alts) for i, alts in by_intent.items()) + ")") if ids else None
        )
        return together, {intent: _compile(alts) for intent, alts in by_intent.items()}

    def first_matches(self, norm: str) -> dict[str, str]:
        """intent -> its leftmost match (what `pattern.search` would give)."""
        found: dict[str, str] = {}
        at = self._at
        for boundary in self.gate.positions(norm):
            pos = boundary.start()
            ahead = norm[pos : pos + PREFIX_CHARS]
            candidates = at.get(ahead)
            _match_at(norm, pos, found, candidates if candidates is not None else self.candidates_at(ahead))
        return found


# a position's candidate regexes: all intents together (None: no alternative can start
# there), and each intent's own
Candidates = tuple[re.Pattern[str] | None, dict[str, re.Pattern[str]]]


def _match_at(norm: str, pos: int, found: dict[str, str], candidates: Candidates) -> None:
    """Add to `found` the intents not in it yet that match at `pos`, given its candidates."""
    together, each = candidates
    m = together.match(norm, pos) if together is not None else None
    if m is None or m.lastgroup is None:
        return
    intent = m.lastgroup
    if intent not in found:
        found[intent] = m.group(intent)
    if len(each) > 1:
        for other, pattern in each.items():
            if other != intent and other not in found:
                hit = pattern.match(norm, pos)
                if hit:
                    found[other] = hit.group(0)


class ScannerGroup:
    """Several scanners (languages) behind one gate (a post's language and English, or
    all of them): the text is scanned once, and where some language's alternative can
    start, each scanner looks for its own there. Same hits as each scanner on its own."""

    def __init__(self, scanners: Sequence[Scanner]) -> None:
        self.scanners = tuple(scanners)
        self.gate = Gate(set().union(*(s.gate_prefixes for s in self.scanners)))
        # the text ahead of a position -> (scanner number, its candidates) for the scanners
        # with some alternative that can start there
        self._at: dict[str, list[tuple[int, Candidates]]] = {}

    def candidates_at(self, ahead: str) -> list[tuple[int, Candidates]]:
        found = [(k, s.candidates_at(ahead)) for k, s in enumerate(self.scanners)]
        found = [(k, c) for k, c in found if c[0] is not None]
        if len(self._at) > 50_000:
            self._at.clear()
        self._at[ahead] = found
        return found

    def first_matches(self, norm: str) -> list[dict[str, str]]:
        """Each scanner's `first_matches(norm)`, in order."""
        founds: list[dict[str, str]] = [{} for _ in self.scanners]
        at = self._at
        for boundary in self.gate.positions(norm):
            pos = boundary.start()
            ahead = norm[pos : pos + PREFIX_CHARS]
            candidates = at.get(ahead)
            for k, c in candidates if candidates is not None else self.candidates_at(ahead):
                _match_at(norm, pos, founds[k], c)
        return founds


class GatedSearch:
    """`pattern`'s `search`, behind a lookahead for the few characters any match starts
    with, so the search passes over most positions without trying each alternative.
    A pattern starting with \\b before a word character is searched for in " " + text
    behind a \\W (see Gate): the engine then only stops after non-word characters."""

    def __init__(self, pattern: str) -> None:
        items = list(_parser.parse(pattern))
        prefixes = start_strings(items)
        self.pad = ""
        if "" in prefixes:
            self.regex = re.compile(pattern)
        elif items[0] == (_c.AT, _c.AT_BOUNDARY) and all(_WORD_CHAR.match(p) for p in prefixes):
            self.regex, self.pad = re.compile(f"\\W(?={trie(set(prefixes))})(?:{pattern})"), " "
        else:
            self.regex = re.compile(f"(?={trie(set(prefixes))})(?:{pattern})")

    def search(self, text: str) -> str | None:
        """The text of `re.search(pattern, text)`'s match, or None."""
        m = self.regex.search(self.pad + text)
        if m is None:
            return None
        return m.group(0)[len(self.pad) :]


def problem_with(alternative: str) -> str | None:
    """Why `alternative` cannot be a scanner alternative, or None: it must be a regex,
    and every match of it must start with a word character (see Gate)."""
    try:
        starts = start_strings(list(_parser.parse(alternative)))
        re.compile(alternative)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    if any(not _WORD_CHAR.match(start) for start in starts):
        return "must start with a letter or digit (a match of it could start anywhere)"
    return None
