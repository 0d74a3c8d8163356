"""Docs are tested: every connector kind and every CLI command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from connectors.base import CONNECTOR_MODULES
from watcher.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", sorted(CONNECTOR_MODULES))
def test_every_connector_kind_is_documented(kind: str) -> None:
    assert f"| `{kind}` |" in README, f"README's Sources table lacks {kind}"
    assert re.search(rf'^kind = "{kind}"', EXAMPLE, re.MULTILINE), f"config.example.toml lacks a {kind} source"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_is_in_the_readme(name: str) -> None:
    command = cli.commands[name]
    assert f"`watcher {name}" in README
    assert command.help, f"watcher {name} has no help text"
    if isinstance(command, click.Group):
        for sub in command.commands:
            assert f"`watcher {name} {sub}" in README


def test_changelog_has_an_unreleased_section_on_top() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog.splitlines()[2] == "## Unreleased"
