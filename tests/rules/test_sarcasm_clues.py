"""The substring test in front of the sarcasm marker search must never skip a match."""

from __future__ import annotations

import importlib
import itertools
from typing import Any

from rules.intents import _SARCASM_MARKERS_TEXT, MARKER_CLUES, sarcasm
from rules.model import normalize

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")


def texts_of(items: Any) -> set[str]:
    """Every string a finite regex can match, zero-width assertions ignored (a superset)."""
    out = {""}
    for op, av in items:
        if op is _c.LITERAL:
            options = {chr(av)}
        elif op is _c.IN:
            assert all(kind is _c.LITERAL for kind, _ in av), "only literal classes expected"
            options = {chr(v) for _, v in av}
        elif op is _c.SUBPATTERN:
            options = texts_of(av[-1])
        elif op is _c.BRANCH:
            options = set().union(*(texts_of(branch) for branch in av[1]))
        elif op is _c.AT:
            options = {""}
        else:
            raise AssertionError(f"unexpected regex part {op}")
        out = {a + b for a, b in itertools.product(out, options)}
    return out


def test_every_marker_contains_a_clue() -> None:
    markers = texts_of(_parser.parse(_SARCASM_MARKERS_TEXT))
    assert len(markers) > 50
    assert all(any(clue in marker for clue in MARKER_CLUES) for marker in markers)


def test_markers_are_still_found_with_the_clues_in_front() -> None:
    for text, found in (
        ("Thanks for nothing, again", "thanks for nothing"),
        ("oh great. just what I needed", "oh great"),
        ("love waiting on hold /s", "love waiting"),
        ("perfect 🙄", "🙄"),
        ("merci pour rien", "merci pour rien"),
    ):
        assert sarcasm(normalize(text), ()) == found
    assert sarcasm(normalize("love this, thank you"), ()) is None
