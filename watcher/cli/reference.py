"""Generate docs/reference/cli.md (from the click command tree) and docs/reference/config.md
(from config.example.toml). Run `python -m watcher.cli.reference` to rewrite both;
tests/test_docs.py fails when a checked-in file differs.

Importing this module is cheap: the command tree (which pulls in triage models, SDKs and
the store) is imported only when the CLI reference is rendered."""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = Path("docs/reference/cli.md")
CONFIG_DOC = Path("docs/reference/config.md")
EXAMPLE = Path("config.example.toml")
COMMAND = "python -m watcher.cli.reference"
# A fixed width so the help text wraps the same on every terminal.
WIDTH = 100


# --- CLI -----------------------------------------------------------------------


def render_cli(root: click.Command | None = None) -> str:
    """Every command's --help, as click prints it, one section per command."""
    if root is None:
        from watcher.cli.main import cli

        root = cli
    out = [
        "# Command line reference",
        "",
        f"Generated from the click command tree by `{COMMAND}`; do not edit by hand.",
        "",
    ]
    for path, ctx in _walk(root, _context(root, "watcher", None)):
        out += [f"## `{' '.join(path)}`", "", "```text", ctx.command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(out)


def _walk(command: click.Command, ctx: click.Context) -> list[tuple[list[str], click.Context]]:
    path = [c.info_name or "" for c in reversed(list(_lineage(ctx)))]
    found = [(path, ctx)]
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            found += _walk(sub, _context(sub, name, ctx))
    return found


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    """The context `watcher ... --help` builds (context_settings such as -h included), at a
    fixed width that subcommands inherit."""
    settings = dict(command.context_settings)
    if parent is None:
        settings.update(terminal_width=WIDTH, max_content_width=WIDTH)
    # click (8.1.8+) keeps a command's help option from the first context that asked for
    # it; one invoked on its own before (as tests do) would show a bare --help here.
    if hasattr(command, "_help_option"):
        command._help_option = None
    return click.Context(command, info_name=name, parent=parent, **settings)


def _lineage(ctx: click.Context) -> list[click.Context]:
    chain: list[click.Context] = []
    current: click.Context | None = ctx
    while current is not None:
        chain.append(current)
        current = current.parent
    return chain


# --- config.example.toml --------------------------------------------------------

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*)$")
_COMMENTED_KEY = re.compile(r"^#\s?([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*)$")
_CONTINUED = re.compile(r"^#\s{2,}#\s?(.*)$")  # "#      # more of the line above's comment"
_HEADING = re.compile(r"^#\s*-{3}\s*(.*?)\s*-*\s*$")  # "# --- Title -----"
_TABLE = re.compile(r"^\[([^\[\]]+)\]\s*(?:#.*)?$")


@dataclass
class Key:
    name: str
    value: str
    comment: str
    commented_out: bool


@dataclass
class Table:
    name: str
    intro: list[str] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    heading: str = ""  # the "# --- Title ---" group the table opens, if any
    heading_intro: list[str] = field(default_factory=list)


def _split_value(text: str) -> tuple[str, str] | None:
    """`value  # comment` -> (value, comment), where value parses as TOML; None if none does."""
    cuts = [i for i, ch in enumerate(text) if ch == "#"] + [len(text)]
    for cut in cuts:
        value = text[:cut].strip()
        if not value:
            continue
        try:
            tomllib.loads(f"k = {value}")
        except tomllib.TOMLDecodeError:
            continue
        return value, text[cut + 1 :].strip()
    return None


def parse_example(text: str) -> tuple[list[str], list[Table]]:
    """The example's opening comment and its tables, each key with the comment that explains it."""
    preamble: list[str] = []
    tables: list[Table] = []
    block: list[str] = []  # comment paragraph(s) not yet given to a key or table
    run: list[str] = []  # the comment block that applies to consecutive keys below it
    heading = ""
    heading_intro: list[str] = []  # the paragraph right under a heading speaks for the whole group
    last: Key | None = None
    first = False  # the next key is the first one under the current comment block
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if not tables and not heading and block:
                preamble, block = preamble + block, []
            elif heading and not heading_intro and block:
                heading_intro, block = _paragraphs(block), []
            elif block:
                block.append("")
            run, last = [], None
            continue
        if (match := _TABLE.match(line)) is not None:
            table = Table(match.group(1), _paragraphs(block), heading=heading, heading_intro=heading_intro)
            tables.append(table)
            block, run, heading, heading_intro, last = [], [], "", [], None
            continue
        if (match := _HEADING.match(line)) is not None:
            heading, heading_intro, block, run, last = match.group(1), [], [], [], None
            continue
        if last is not None and (match := _CONTINUED.match(line)) is not None:
            last.comment = f"{last.comment} {match.group(1)}".strip()
            continue
        key_match = _KEY.match(line)
        commented = key_match is None and line.startswith("#")
        if commented:
            key_match = _COMMENTED_KEY.match(line)
        split = _split_value(key_match.group(2)) if key_match else None
        if key_match is None or split is None or not tables:
            if line.startswith("#"):
                if run or last is not None:
                    block, run, last = [], [], None
                block.append(line.lstrip("#").strip())
            continue
        value, own = split
        if block:
            run, block, first = _paragraphs(block), [], True
        # A block above a run of keys describes each of them, up to a key with its own comment.
        words = [w for w in (" ".join(run) if first or not own else "", own) if w]
        last = Key(key_match.group(1), value, " ".join(words), commented)
        tables[-1].keys.append(last)
        if own:
            run = []
        first = False
    return _paragraphs(preamble), tables


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs, current = [], []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    return paragraphs


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_config(text: str | None = None) -> str:
    """Every table and key of config.example.toml with the comment the file gives it."""
    if text is None:
        text = (ROOT / EXAMPLE).read_text(encoding="utf-8")
    preamble, tables = parse_example(text)
    out = [
        "# Configuration reference",
        "",
        f"Generated from `{EXAMPLE}` by `{COMMAND}`; do not edit by hand. Edit the comments in",
        f"`{EXAMPLE}` instead. Keys shown as *(commented out)* are optional and left at their",
        "default in the example.",
        "",
        *[p + "\n" for p in preamble],
    ]
    for table in tables:
        if table.heading:
            out += [f"## {table.heading}", ""]
            out += [p + "\n" for p in table.heading_intro]
        out += [f"### `[{table.name}]`", ""]
        out += [p + "\n" for p in table.intro]
        if table.keys:
            out += ["| key | example | meaning |", "| --- | --- | --- |"]
            for key in table.keys:
                example = f"`{_cell(key.value)}`" + (" *(commented out)*" if key.commented_out else "")
                out.append(f"| `{key.name}` | {example} | {_cell(key.comment)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- the command ------------------------------------------------------------------


RENDERERS: dict[Path, Callable[[], str]] = {CLI_DOC: render_cli, CONFIG_DOC: render_config}


def references() -> dict[Path, str]:
    """Each generated file's path (from the repository root) and its expected text."""
    return {path: render() for path, render in RENDERERS.items()}


def main(argv: list[str] | None = None) -> int:
    """Rewrite the references; with --check, only report which ones are out of date."""
    check = "--check" in (sys.argv[1:] if argv is None else argv)
    stale = []
    for path, text in references().items():
        target = ROOT / path
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    verb = "out of date" if check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}")
    if check and stale:
        print(f"run `{COMMAND}` to update")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
