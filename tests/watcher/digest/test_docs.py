"""The digest's documented config is valid and complete; the command has help."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from click.testing import CliRunner

from watcher.cli.digest import digest
from watcher.cli.reference import CONFIG_DOC, parse_example
from watcher.config import DigestConfig, DigestScheduleConfig, parse_config

ROOT = Path(__file__).resolve().parents[3]


def test_documented_config_parses_and_names_every_key() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    config = parse_config(data)
    assert [s.name for s in config.digest.schedules] == ["care_daily", "marketing_weekly"]
    documented = set(data["digest"]) | {k for s in data["digest"]["schedules"].values() for k in s}
    expected = {f.name for f in fields(DigestConfig)} | {f.name for f in fields(DigestScheduleConfig)} - {"name"}
    assert expected <= documented | {"name"}


def test_every_digest_key_is_explained_in_the_reference() -> None:
    """Each [digest] key carries a comment, so the generated reference says what it does."""
    _, tables = parse_example((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    digest_keys = {key.name: key.comment for table in tables if table.name == "digest" for key in table.keys}
    assert set(digest_keys) == {f.name for f in fields(DigestConfig)} - {"schedules"}
    assert all(digest_keys.values()), [name for name, comment in digest_keys.items() if not comment]
    reference = (ROOT / CONFIG_DOC).read_text(encoding="utf-8")
    assert "### `[digest]`" in reference


def test_command_has_help() -> None:
    result = CliRunner().invoke(digest, ["--help"])
    assert result.exit_code == 0
    for option in ("--period", "--since", "--until", "--post", "--html", "--csv", "--config", "--db"):
        assert option in result.output
