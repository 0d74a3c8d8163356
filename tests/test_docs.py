"""The generated references are current, every link in the docs resolves, every command
has help, and every connector kind has its page and an example source."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from connectors.base import CONNECTOR_MODULES
from watcher.cli import reference
from watcher.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


@pytest.mark.parametrize("path", sorted(reference.RENDERERS), ids=str)
def test_generated_reference_is_current(path: Path) -> None:
    expected = reference.RENDERERS[path]()
    current = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).exists() else ""
    assert current == expected, f"{path} is out of date: run `{reference.COMMAND}` to update"


def test_generator_imports_nothing_heavy() -> None:
    code = "import sys, watcher.cli.reference; print(sorted({'numpy', 'sklearn', 'slack_bolt', 'tweepy', 'praw', 'watcher.cli.main'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{prefix} {name}")
    return found


@pytest.mark.parametrize(("name", "command"), _commands(cli, "watcher"), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help(name: str, command: click.Command) -> None:
    assert command.help, f"{name} has no help text"
    assert f"## `{name}`" in reference.render_cli(cli)


@pytest.mark.parametrize("kind", sorted(CONNECTOR_MODULES))
def test_every_connector_kind_has_a_page_and_an_example(kind: str) -> None:
    assert (ROOT / "docs" / "connectors" / f"{kind}.md").is_file(), f"docs/connectors/{kind}.md is missing"
    assert re.search(rf'^kind = "{kind}"', EXAMPLE, re.MULTILINE), f"config.example.toml lacks a {kind} source"


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to {target}, which does not exist"


def test_readme_is_one_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, "README.md is the front page: move details to docs/"


def test_changelog_has_an_unreleased_section_on_top() -> None:
    headings = [
        line for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    ]
    assert headings[0] == "## [Unreleased]"


def test_config_reference_reads_comments_and_commented_out_keys() -> None:
    text = """# The file's intro.

[brand]
name = "Lumo"   # required
# Two keys, one comment.
a = 1
b = "x # not a comment"
c = 3           # its own comment
# tier = "basic"     # optional key
#                    # ... continued

# --- Sources ---
# For every source.

[sources.one]
kind = "replay"
"""
    preamble, tables = reference.parse_example(text)
    assert preamble == ["The file's intro."]
    brand, one = tables
    assert [(k.name, k.value, k.comment, k.commented_out) for k in brand.keys] == [
        ("name", '"Lumo"', "required", False),
        ("a", "1", "Two keys, one comment.", False),
        ("b", '"x # not a comment"', "Two keys, one comment.", False),
        ("c", "3", "its own comment", False),
        ("tier", '"basic"', "optional key ... continued", True),
    ]
    assert (one.heading, one.heading_intro) == ("Sources", ["For every source."])


def test_readme_minimal_config_is_valid(tmp_path: Path) -> None:
    """The README's minimal configuration loads as it stands."""
    from watcher.config import load_config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) == 1, "README.md should hold one TOML example (the minimal configuration)"
    path = tmp_path / "config.toml"
    path.write_text(blocks[0], encoding="utf-8")
    config = load_config(path)
    assert config.brand.name and config.sources


@pytest.mark.parametrize(("name", "command"), _commands(cli, "watcher"), ids=lambda v: v if isinstance(v, str) else "")
def test_cli_reference_is_what_help_prints(name: str, command: click.Command) -> None:
    args = [*name.split()[1:], "--help"]
    result = CliRunner().invoke(cli, args, prog_name="watcher", terminal_width=reference.WIDTH)
    assert result.exit_code == 0
    section = reference.render_cli(cli).split(f"## `{name}`\n\n```text\n", 1)[1].split("\n```", 1)[0]
    assert result.output.rstrip() == section


def test_cli_reference_does_not_depend_on_earlier_invocations() -> None:
    """click remembers a command's help option from its first use: a subcommand invoked on
    its own (as its tests do) must not change the reference."""
    before = reference.render_cli(cli)
    rules = cli.commands["rules"]
    assert isinstance(rules, click.Group)
    CliRunner().invoke(rules, ["test", "--help"])
    assert reference.render_cli(cli) == before
