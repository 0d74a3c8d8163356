"""The digest's documented config is valid and complete; the command has help."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from click.testing import CliRunner

from watcher.cli.digest import digest
from watcher.config import DigestConfig, DigestScheduleConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_documented_config_parses_and_names_every_key() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    config = parse_config(data)
    assert [s.name for s in config.digest.schedules] == ["care_daily", "marketing_weekly"]
    documented = set(data["digest"]) | {k for s in data["digest"]["schedules"].values() for k in s}
    expected = {f.name for f in fields(DigestConfig)} | {f.name for f in fields(DigestScheduleConfig)} - {"name"}
    assert expected <= documented | {"name"}


def test_readme_section_mentions_the_command_and_the_statistics() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`watcher digest" in text
    for words in ("same clock hour on each of the", "median absolute deviation", "previous 7 x 24 hours"):
        assert words in text


def test_command_has_help() -> None:
    result = CliRunner().invoke(digest, ["--help"])
    assert result.exit_code == 0
    for option in ("--period", "--since", "--until", "--post", "--html", "--csv", "--config", "--db"):
        assert option in result.output
