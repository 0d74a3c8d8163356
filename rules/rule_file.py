"""Rules a team writes in TOML: conditions -> actions, validated at load.

    [[rules]]
    name = "lawyer mentions to legal"
    all = { intent = ["legal"], language = ["en", "it"] }
    any = { keywords = ["lawyer", "avvocato"], followers = { min = 1000 } }
    none = { platform = ["reddit"] }
    then = { boost = 20, priority = "urgent", channel = "#care-legal", tag = ["legal"] }

A rule fires when every key of `all` holds, at least one key of `any` holds (if
given) and no key of `none` holds. Rules run in file order, built-in rules
(rules/builtin_rules.toml, written the same way) first, so a team's file can
override them or switch them off with `disable_builtin = ["name", ...]`.
Every problem in a file is reported at once as a ConfigError (file, rule, key,
reason), in the same style as config.toml.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rules.engine import (
    AUTHOR_LISTS,
    BOOL_KEYS,
    CONDITION_KEYS,
    LIST_KEYS,
    RANGE_KEYS,
    Actions,
    Conditions,
    Range,
    Rule,
    RuleSet,
)
from rules.intents import INTENTS
from rules.model import strip_accents
from watcher.core.config import ConfigError, ConfigProblem, read_toml, unknown_key
from watcher.core.vocab import PRIORITIES

BUILTIN_RULES_FILE = Path(__file__).resolve().parent / "builtin_rules.toml"
ACTION_KEYS = (
    "boost",
    "priority",
    "min_priority",
    "channel",
    "tag",
    "suppress",
    "digest_only",
    "needs_reply",
    "allow_urgent",
    "reason",
)
RULE_KEYS = ("name", "description", "enabled", "all", "any", "none", "then")


def load_rule_file(path: str | Path) -> tuple[list[Rule], tuple[str, ...]]:
    """Parse one rules file; return its rules and the built-in names it disables."""
    data = read_toml(path, missing="rules file not found; fix triage.rules_file")
    return parse_rules(data, file=str(path))


def load_ruleset(rules_file: str | Path | None = None, *, builtin: bool = True) -> RuleSet:
    """Built-in rules, minus the ones the team's file disables, then the team's rules."""
    rules: list[Rule] = []
    files: list[str] = []
    custom: list[Rule] = []
    disabled: tuple[str, ...] = ()
    if rules_file:
        custom, disabled = load_rule_file(rules_file)
    if builtin:
        base, _ = load_rule_file(BUILTIN_RULES_FILE)
        known = {r.name for r in base}
        unknown = [n for n in disabled if n not in known]
        if unknown:
            raise ConfigError(
                [
                    ConfigProblem(
                        str(rules_file),
                        "disable_builtin",
                        f"no built-in rule named {n!r}; known: {', '.join(sorted(known))}",
                    )
                    for n in unknown
                ]
            )
        rules.extend(r for r in base if r.name not in disabled)
        files.append(str(BUILTIN_RULES_FILE))
    rules.extend(custom)
    if rules_file:
        files.append(str(rules_file))
    return RuleSet(tuple(rules), tuple(files))


def parse_rules(data: Mapping[str, Any], *, file: str) -> tuple[list[Rule], tuple[str, ...]]:
    problems: list[ConfigProblem] = []
    for key in data:
        if key not in ("rules", "disable_builtin"):
            problems.append(
                ConfigProblem(file, key, 'unknown top-level key; use [[rules]] tables and "disable_builtin"')
            )
    disabled = data.get("disable_builtin", [])
    if not isinstance(disabled, list) or not all(isinstance(n, str) for n in disabled):
        problems.append(ConfigProblem(file, "disable_builtin", 'expected a list of rule names like ["spam"]'))
        disabled = []
    table = data.get("rules", [])
    if not isinstance(table, list):
        problems.append(ConfigProblem(file, "rules", "write each rule as a [[rules]] table"))
        table = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(table, start=1):
        rule = _parse_rule(raw, i, file, problems, seen)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise ConfigError(problems)
    return rules, tuple(disabled)


def _parse_rule(raw: Any, i: int, file: str, problems: list[ConfigProblem], seen: set[str]) -> Rule | None:
    start = len(problems)
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, f"rules[{i}]", "must be a table"))
        return None
    name = raw.get("name")
    where = f"rules[{i}]" + (f" ({name!r})" if isinstance(name, str) and name else "")
    if not isinstance(name, str) or not name.strip():
        problems.append(ConfigProblem(file, f"{where}.name", 'missing; give every rule a name = "..."'))
        name = f"rule {i}"
    elif name in seen:
        problems.append(ConfigProblem(file, f"{where}.name", "duplicate rule name; names must be unique"))
    seen.add(name)
    for key in raw:
        if key not in RULE_KEYS:
            problems.append(ConfigProblem(file, f"{where}.{key}", unknown_key(key, list(RULE_KEYS), "key")))
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(ConfigProblem(file, f"{where}.enabled", f"expected true or false (no quotes), got {enabled!r}"))
    blocks = {k: _parse_conditions(raw.get(k, {}), file, f"{where}.{k}", problems) for k in ("all", "any", "none")}
    if all(b.empty for b in blocks.values()) and len(problems) == start:
        problems.append(ConfigProblem(file, where, "has no conditions; add all = {...}, any = {...} or none = {...}"))
    if "then" not in raw:
        problems.append(
            ConfigProblem(file, f"{where}.then", "missing; say what the rule does, e.g. then = { boost = 10 }")
        )
    then = _parse_actions(raw.get("then", {}), file, f"{where}.then", problems)
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(ConfigProblem(file, f"{where}.description", "expected a string"))
    # a switched-off rule is checked all the same: its mistakes show now, not the day it is switched on
    if len(problems) > start or enabled is False:
        return None
    return Rule(name=name, then=then, description=str(description), file=file, **blocks)


def _parse_conditions(raw: Any, file: str, where: str, problems: list[ConfigProblem]) -> Conditions:
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, where, 'expected a table like { intent = ["legal"] }'))
        return Conditions()
    lists: dict[str, tuple[str, ...]] = {}
    ranges: dict[str, Range] = {}
    flags: dict[str, bool] = {}
    regex = keyword_re = None
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key in LIST_KEYS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
                problems.append(ConfigProblem(file, at, 'expected a non-empty list of strings like ["a", "b"]'))
                continue
            blank = [n for n, v in enumerate(items, start=1) if not v.strip()]
            if blank:
                # a blank keyword would be looked for as spaces: it matches nearly every post, or none
                problems.append(ConfigProblem(file, at, f"item {blank[0]} is blank; remove it or write a word"))
                continue
            values = tuple(v.casefold() for v in items)
            allowed = {"intent": INTENTS, "author_list": AUTHOR_LISTS}.get(key)
            for v in values:
                if allowed is not None and v not in allowed:
                    problems.append(ConfigProblem(file, at, f"{v!r} is not one of {', '.join(allowed)}"))
            if key == "language":
                for v in values:
                    if v != "unknown" and (len(v) != 2 or not v.isalpha()):
                        problems.append(
                            ConfigProblem(file, at, f'{v!r} is not a two-letter language code like "en" (or "unknown")')
                        )
            lists[key] = values
            if key == "keywords":
                # each keyword as written and without its accents: the post's normalized
                # text has none, so "perché" must also be looked for as "perche"
                forms = {form for v in values for form in (v, strip_accents(v))}
                keyword_re = re.compile(
                    r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(forms, key=len, reverse=True)) + r")(?!\w)"
                )
        elif key == "regex":
            if not isinstance(value, str) or not value:
                problems.append(ConfigProblem(file, at, "expected a regular expression string"))
                continue
            try:
                regex = re.compile(value, re.IGNORECASE)
            except re.error as exc:
                problems.append(ConfigProblem(file, at, f"invalid regular expression: {exc}"))
        elif key in RANGE_KEYS:
            rng = _parse_range(value, file, at, problems)
            if rng is not None:
                if key == "sentiment" and any(v is not None and not -1 <= v <= 1 for v in (rng.low, rng.high)):
                    problems.append(ConfigProblem(file, at, "sentiment bounds must be between -1 and 1"))
                ranges[key] = rng
        elif key in BOOL_KEYS:
            if not isinstance(value, bool):
                problems.append(ConfigProblem(file, at, "expected true or false"))
                continue
            flags[key] = value
        else:
            problems.append(ConfigProblem(file, at, unknown_key(key, list(CONDITION_KEYS), "condition")))
    return Conditions(lists=lists, regex=regex, ranges=ranges, flags=flags, keyword_re=keyword_re)


def _parse_range(value: Any, file: str, at: str, problems: list[ConfigProblem]) -> Range | None:
    if not isinstance(value, Mapping) or not value or set(value) - {"min", "max"}:
        problems.append(ConfigProblem(file, at, "expected a range like { min = 0.5 } or { min = 1, max = 10 }"))
        return None
    bounds: dict[str, float] = {}
    for key in ("min", "max"):
        if key in value:
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                problems.append(ConfigProblem(file, f"{at}.{key}", f"expected a number, got {v!r}"))
                return None
            if not math.isfinite(v):  # TOML has nan and inf: nan never compares true, inf matches all or nothing
                problems.append(
                    ConfigProblem(
                        file, f"{at}.{key}", f"expected a finite number, got {v!r}; leave the bound out instead"
                    )
                )
                return None
            bounds[key] = float(v)
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        problems.append(ConfigProblem(file, at, "min is greater than max; nothing can match"))
        return None
    return Range(bounds.get("min"), bounds.get("max"))


def _parse_actions(raw: Any, file: str, where: str, problems: list[ConfigProblem]) -> Actions:
    if not isinstance(raw, Mapping):
        problems.append(ConfigProblem(file, where, "expected a table like { boost = 10 }"))
        return Actions()
    start = len(problems)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        at = f"{where}.{key}"
        if key == "boost":
            if isinstance(value, bool) or not isinstance(value, int) or not -100 <= value <= 100:
                problems.append(ConfigProblem(file, at, "expected a whole number from -100 to 100 (negative lowers)"))
            else:
                values["boost"] = value
        elif key in ("priority", "min_priority"):
            if value not in PRIORITIES:
                problems.append(ConfigProblem(file, at, f"{value!r} is not one of {', '.join(PRIORITIES)}"))
            else:
                values[key] = value
        elif key in ("channel", "reason"):
            if not isinstance(value, str) or not value:
                problems.append(ConfigProblem(file, at, "expected a non-empty string"))
            elif key == "channel" and not re.fullmatch(r"#?[a-z0-9][a-z0-9_\-]{0,79}|[CG][A-Z0-9]{6,}", value):
                problems.append(
                    ConfigProblem(
                        file, at, f'{value!r} is not a Slack channel name like "#care-urgent" or an id like "C0123ABCD"'
                    )
                )
            else:
                values[key] = value
        elif key == "tag":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
                problems.append(ConfigProblem(file, at, 'expected a tag or a list of tags like ["legal"]'))
            else:
                values["tags"] = tuple(items)
        elif key in ("suppress", "digest_only", "needs_reply", "allow_urgent"):
            if not isinstance(value, bool):
                problems.append(ConfigProblem(file, at, "expected true or false"))
            else:
                values[key] = value
        else:
            problems.append(ConfigProblem(file, at, unknown_key(key, list(ACTION_KEYS), "action")))
    if not raw and len(problems) == start:
        problems.append(ConfigProblem(file, where, f"no action; use one of {', '.join(ACTION_KEYS)}"))
    return Actions(**values)
