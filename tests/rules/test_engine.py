"""Rules files: validation errors with file/rule/key, and what each action does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.rule_file import BUILTIN_RULES_FILE, load_rule_file, load_ruleset
from rules.triage import TriageContext, Triager
from tests.rules.conftest import make_post
from watcher.core.config import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_rule_file(write(tmp_path, text))
    return [str(p) for p in info.value.problems]


def test_builtin_rules_load_and_are_named() -> None:
    rules, disabled = load_rule_file(BUILTIN_RULES_FILE)
    names = [r.name for r in rules]
    assert disabled == ()
    assert {"safety hazard", "legal threat", "spam or promo", "staff account"} <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[rules]]\nall = { intent = ['legal'] }\nthen = { boost = 5 }\n", "rules[1].name: missing"),
        (
            "[[rules]]\nname = 'x'\nall = { intent = ['lawsuit'] }\nthen = { boost = 5 }\n",
            "rules[1] ('x').all.intent: 'lawsuit' is not one of",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { regex = '(' }\nthen = { boost = 5 }\n",
            "all.regex: invalid regular expression",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { sentiment = { min = -2 } }\nthen = { boost = 5 }\n",
            "all.sentiment: sentiment bounds must be between -1 and 1",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { followers = { min = 10, max = 1 } }\nthen = { boost = 5 }\n",
            "all.followers: min is greater than max",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { folowers = { min = 1 } }\nthen = { boost = 5 }\n",
            "did you mean 'followers'?",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\nthen = { priority = 'asap' }\n",
            "then.priority: 'asap' is not one of",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\nthen = { boost = 500 }\n",
            "then.boost: expected a whole number",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\nthen = { channel = 'Care Team' }\n",
            "is not a Slack channel name",
        ),
        ("[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\n", "then: missing"),
        ("[[rules]]\nname = 'x'\nthen = { boost = 1 }\n", "has no conditions"),
        (
            "[[rules]]\nname = 'x'\nall = { language = ['english'] }\nthen = { boost = 1 }\n",
            "not a two-letter language code",
        ),
        (
            "[[rules]]\nname = 'x'\nall = { verified = 'yes' }\nthen = { boost = 1 }\n",
            "all.verified: expected true or false",
        ),
        ("[[rules]]\nname = 'x'\nwhen = { intent = ['legal'] }\nthen = { boost = 1 }\n", "unknown key 'when'"),
        ("rule = 1\n", "rule: unknown top-level key"),
        (
            "[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\nthen = { boost = 1 }\n[[rules]]\nname = 'x'\nall = { intent = ['legal'] }\nthen = { boost = 1 }\n",
            "duplicate rule name",
        ),
    ],
)
def test_validation_errors_name_file_rule_key(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "rules.toml")) for p in found)


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "[[rules]]\nname = 'a'\nall = { intent = ['nope'] }\nthen = { boost = 'x' }\n"
        "[[rules]]\nname = 'b'\nall = { regex = '[' }\nthen = { suppress = 1 }\n",
    )
    assert len(found) == 4


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid TOML" in problems(tmp_path, "[[rules]\n")[0]
    with pytest.raises(ConfigError, match="rules file not found"):
        load_rule_file(tmp_path / "absent.toml")


def test_disable_unknown_builtin_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "disable_builtin = ['spamm']\n")
    with pytest.raises(ConfigError, match="no built-in rule named 'spamm'"):
        load_ruleset(path)


def test_team_rules_route_tag_and_override(tmp_path: Path, triager: Triager, ctx: TriageContext) -> None:
    path = write(
        tmp_path,
        """
disable_builtin = ["praise only"]

[[rules]]
name = "legal to legal team"
all = { intent = ["legal"] }
then = { channel = "#care-legal", tag = ["legal-team"] }

[[rules]]
name = "italian billing"
all = { language = ["it"], intent = ["billing"] }
any = { keywords = ["bolletta", "fattura"], followers = { min = 5000 } }
then = { boost = 30, tag = "it-billing" }

[[rules]]
name = "reddit to digest"
all = { platform = ["reddit"] }
then = { digest_only = true }

[[rules]]
name = "mute a noisy keyword"
all = { regex = "\\\\bcoupon\\\\b" }
then = { suppress = true }
""",
    )
    custom = triager.with_rules(load_ruleset(path))
    legal = custom.triage(make_post("my lawyer will contact you"), ctx)
    assert legal.channel == "#care-legal" and "legal-team" in legal.tags and legal.priority == "urgent"
    # a post well below the non-urgent cap (79), so the boost has room to show
    base = triager.triage(make_post("La bolletta è sbagliata"), ctx)
    boosted = custom.triage(make_post("La bolletta è sbagliata"), ctx)
    assert boosted.score > base.score and "it-billing" in boosted.tags
    assert custom.triage(make_post("where is my order?", platform="reddit"), ctx).digest_only
    muted = custom.triage(make_post("any coupon for my next order?"), ctx)
    assert muted.suppress and not muted.needs_reply
    praise = custom.triage(make_post("love your new app, amazing work"), ctx)
    assert "praise only" not in praise.rules_fired
    assert "praise only" in triager.triage(make_post("love your new app, amazing work"), ctx).rules_fired


def test_set_priority_moves_score_into_band(tmp_path: Path, triager: Triager, ctx: TriageContext) -> None:
    path = write(tmp_path, "[[rules]]\nname = 'low'\nall = { keywords = ['lumo'] }\nthen = { priority = 'low' }\n")
    custom = triager.with_rules(load_ruleset(path))
    result = custom.triage(make_post("Lumo where is my parcel?? still waiting after 3 weeks"), ctx)
    assert result.priority == "low" and result.score < ctx.thresholds.normal_score


def test_keywords_match_with_or_without_accents(tmp_path: Path, triager: Triager, ctx: TriageContext) -> None:
    path = write(
        tmp_path,
        "[[rules]]\nname = 'why'\nall = { keywords = ['perché', '@lumo_help'] }\nthen = { tag = ['why'] }\n",
    )
    custom = triager.with_rules(load_ruleset(path))
    for text in ("ma perché non arriva?", "ma perche non arriva?", "ask @lumo_help please"):
        assert "why" in custom.triage(make_post(text), ctx).tags, text
    assert "why" not in custom.triage(make_post("perchessia"), ctx).tags


def test_a_tag_condition_matches_a_tag_written_in_another_case(
    tmp_path: Path, triager: Triager, ctx: TriageContext
) -> None:
    path = write(
        tmp_path,
        """
[[rules]]
name = "legal to the Legal tag"
all = { intent = ["legal"] }
then = { tag = ["Legal"] }

[[rules]]
name = "tagged Legal to its channel"
all = { tag = ["Legal"] }
then = { channel = "#care-legal" }
""",
    )
    custom = triager.with_rules(load_ruleset(path))
    result = custom.triage(make_post("my lawyer will contact you"), ctx)
    assert "Legal" in result.tags and result.channel == "#care-legal"
