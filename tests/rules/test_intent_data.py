"""The intent patterns are data files, one per market language: how they are read,
what a mistake in one says, and that the package ships them."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from rules.intents import DATA_DIR, INTENTS, LANGUAGES, PATTERNS, detect_intents, load_patterns
from watcher.core.config import ConfigError
from watcher.core.vocab import MARKET_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


def test_every_market_language_has_its_file_and_every_intent_its_place() -> None:
    assert LANGUAGES == MARKET_LANGUAGES
    assert sorted(p.stem for p in DATA_DIR.glob("*.toml")) == sorted([*MARKET_LANGUAGES, "sarcasm"])
    assert tuple(PATTERNS) == INTENTS
    assert all(PATTERNS[intent].get(lang) for intent in INTENTS for lang in LANGUAGES)


def test_a_pattern_added_to_a_file_is_found(tmp_path: Path) -> None:
    text = (DATA_DIR / "it.toml").read_text(encoding="utf-8")
    (tmp_path / "it.toml").write_text(
        text.replace("[legal]\npatterns = [\n", "[legal]\npatterns = [\n    'carabinier\\w+',\n")
    )
    patterns = load_patterns(tmp_path, ("it",))
    assert patterns["legal"]["it"][0] == r"carabinier\w+"
    assert "carabinier\\w+" not in PATTERNS["legal"]["it"] and not any(
        h.intent == "legal" for h in detect_intents("chiamo i carabinieri", "it")
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[complaints]\npatterns = ['x']\n", r"complaints: unknown intent 'complaints'; did you mean 'complaint'\?"),
        ("[legal]\npatterns = ['avvocat(o']\n", r"legal.patterns\[0\]: 'avvocat\(o': not a regular expression"),
        (
            "[legal]\npatterns = ['\\bavvocato', '(x|€) 40']\n",
            r"legal.patterns\[1\]: '\(x\|€\) 40': must start with a letter",
        ),
        ("[legal]\npatterns = ['\\W?avvocato']\n", r"legal.patterns\[0\]: .*must start with a letter or digit"),
        ("[legal]\npattern = ['avvocato']\n", r"legal: unknown key\(s\) pattern: the table holds patterns only"),
        ("[legal]\npatterns = 'avvocato'\n", r"legal: needs patterns = \[...\], a list of strings"),
        ("[legal\n", r"it.toml: not valid TOML"),
    ],
)
def test_a_mistake_in_a_pattern_file_names_file_intent_and_pattern(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "it.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_patterns(tmp_path, ("it",))
    assert str(tmp_path / "it.toml") in str(caught.value)


def test_a_missing_language_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ro.toml: no intent patterns for 'ro'"):
        load_patterns(tmp_path, ("ro",))


def test_the_package_ships_every_data_file() -> None:
    """pyproject's package-data globs cover every file under rules/data (an installed
    watcher without its intent files could not start)."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"][
        "rules"
    ]
    rules_dir = ROOT / "rules"
    data = [p.relative_to(rules_dir).as_posix() for p in (rules_dir / "data").rglob("*") if p.is_file()]
    assert data and all(
        any(fnmatch.fnmatch(f, g) and "/" not in f[len(g.split("*")[0]) :] for g in globs) for f in data
    ), data
