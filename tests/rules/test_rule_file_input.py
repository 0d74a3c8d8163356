"""Rules files that used to be misread or crash: a file that is not UTF-8, `enabled`
as a string, a switched-off rule with mistakes, NaN/inf bounds and blank keywords.
Each is a ConfigError naming file, rule and key; through the CLI, exit 2, not 70."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rules.rule_file import load_rule_file, load_ruleset
from watcher.cli.main import cli
from watcher.cli.rules import rules
from watcher.config import load_config
from watcher.core.config import ConfigError

GOOD_BODY = "all = { intent = ['legal'] }\nthen = { boost = 5 }\n"


def rules_file(tmp_path: Path, data: bytes | str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_ruleset(path)
    return [str(p) for p in info.value.problems]


def test_a_rules_file_that_is_not_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    path = rules_file(tmp_path, b'[[rules]]\nname = "caf\xe9"\n' + GOOD_BODY.encode())
    assert problems(path) == [f"{path}: not UTF-8 (byte 22, line 2); save it as UTF-8"]


def test_a_byte_order_mark_is_skipped_and_counted_in_the_byte_offset(tmp_path: Path) -> None:
    path = rules_file(tmp_path, b"\xef\xbb\xbf[[rules]]\nname = 'a'\n" + GOOD_BODY.encode())
    assert [r.name for r in load_rule_file(path)[0]] == ["a"]
    bad = rules_file(tmp_path, b"\xef\xbb\xbf\xff")
    assert problems(bad) == [f"{bad}: not UTF-8 (byte 4, line 1); save it as UTF-8"]


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[brand]\nname = "Lumo"\n# caf\xe9\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert [str(p) for p in info.value.problems] == [f"{path}: not UTF-8 (byte 28, line 3); save it as UTF-8"]


def test_cli_reports_a_rules_file_that_is_not_utf8_with_exit_2(tmp_path: Path) -> None:
    bad = rules_file(tmp_path, b'[[rules]]\nname = "caf\xe9"\n' + GOOD_BODY.encode())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[brand]\nname = "Lumo"\n\n[storage]\npath = "w.db"\n\n[triage]\nrules_file = "{bad.as_posix()}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "score", "-"], input='{"id": "a", "text": "hi"}\n')
    assert result.exit_code == 2, result.output
    assert f"{bad}: not UTF-8 (byte 22, line 2); save it as UTF-8" in result.stderr
    result = CliRunner().invoke(rules, ["test", "--config", str(config), "--rules", str(bad)])
    assert result.exit_code == 2 and "not UTF-8 (byte 22, line 2)" in result.output


@pytest.mark.parametrize("value", ['"false"', '"true"', "0", "1", "'no'"])
def test_enabled_must_be_true_or_false(tmp_path: Path, value: str) -> None:
    path = rules_file(tmp_path, f"[[rules]]\nname = 'a'\nenabled = {value}\n{GOOD_BODY}")
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}: rules[1] ('a').enabled: expected true or false (no quotes), got ")


def test_a_switched_off_rule_is_still_checked(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        "[[rules]]\nname = 'a'\nenabled = false\nall = { intentz = ['legal'] }\nthen = { boostz = 5 }\n",
    )
    found = problems(path)
    assert any("rules[1] ('a').all.intentz: unknown condition 'intentz'" in p for p in found), found
    assert any("rules[1] ('a').then.boostz: unknown action 'boostz'" in p for p in found), found


def test_a_switched_off_valid_rule_loads_and_stays_out(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path, f"[[rules]]\nname = 'off'\nenabled = false\n{GOOD_BODY}[[rules]]\nname = 'on'\n{GOOD_BODY}"
    )
    assert [r.name for r in load_rule_file(path)[0]] == ["on"]
    names = [r.name for r in load_ruleset(path).rules]
    assert "on" in names and "off" not in names


@pytest.mark.parametrize(
    ("condition", "key"),
    [
        ("followers = { min = nan }", "followers.min"),
        ("score = { max = nan }", "score.max"),
        ("score = { min = inf }", "score.min"),
        ("engagement = { min = 1, max = inf }", "engagement.max"),
        ("sentiment = { min = -inf }", "sentiment.min"),
    ],
)
def test_range_bounds_must_be_finite(tmp_path: Path, condition: str, key: str) -> None:
    path = rules_file(tmp_path, f"[[rules]]\nname = 'a'\nall = {{ {condition} }}\nthen = {{ boost = 5 }}\n")
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}: rules[1] ('a').all.{key}: expected a finite number, got ")
    assert found[0].endswith("; leave the bound out instead")


@pytest.mark.parametrize(("items", "n"), [('[" "]', 1), ('["refund", "  "]', 2), ('"\\t"', 1)])
def test_blank_keywords_are_refused(tmp_path: Path, items: str, n: int) -> None:
    path = rules_file(tmp_path, f"[[rules]]\nname = 'a'\nany = {{ keywords = {items} }}\nthen = {{ boost = 5 }}\n")
    assert problems(path) == [f"{path}: rules[1] ('a').any.keywords: item {n} is blank; remove it or write a word"]
