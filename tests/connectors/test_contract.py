"""The whole connector contract is declared in connectors/base.py: callers use its
members plainly, every connector inherits the defaults, and `watcher check` reads a
platform's budget through it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from connectors.base import CONNECTOR_MODULES, Connector, NotSupported, connector_class
from connectors.replay import ReplayConnector
from connectors.x.connector import XConnector
from tests.connectors.x.support import Clock, make_connector, running_fake
from tests.helpers import make_post
from watcher.cli.main import cli
from watcher.slack.runtime import SlackRuntime


@pytest.mark.parametrize("kind", sorted(CONNECTOR_MODULES))
def test_every_kind_is_a_connector_named_after_its_kind(kind: str) -> None:
    cls = connector_class(kind)
    assert issubclass(cls, Connector) and cls.name == kind


def test_the_defaults_a_connector_inherits(tmp_path: Path) -> None:
    export = tmp_path / "e.jsonl"
    export.write_text("", encoding="utf-8")
    replay = ReplayConnector(export)
    assert replay.request_timeout is None and replay.max_reply_length is None and replay.reply_scope is None
    assert replay.reply_length("héllo") == 5 and not replay.can_hide
    with pytest.raises(NotSupported, match="cannot hide"):
        replay.hide(make_post())
    replay.close()  # nothing to release, and no error
    assert ReplayConnector.plan_budget([]) == [] and ReplayConnector.budget_problems([]) == []


def test_the_slack_modal_counts_an_x_reply_the_way_x_does() -> None:
    """X weighs CJK characters 2: 141 of them are 282, over X's 280, though len() says 141
    (the modal used to accept them and the send then failed)."""
    clock = Clock()
    with running_fake(clock) as fake:
        connector: XConnector = make_connector(fake, clock)
        runtime: Any = SimpleNamespace(connector_for=lambda post: connector)
        post = make_post(platform="x")
        text = "你" * 141
        assert SlackRuntime.reply_measure(runtime, post)(text) == 282 > SlackRuntime.reply_limit(runtime, post) == 280
        assert SlackRuntime.reply_measure(runtime, post)("see https://example.com/" + "a" * 300) == 4 + 23


def write_x_config(tmp_path: Path, interval: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[brand]\nname = "Lumo"\nlanguages = ["en"]\n\n[storage]\npath = "w.db"\n\n'
        f'[sources.mentions]\nkind = "x"\nmode = "mentions"\nuser_id = "900000001"\ninterval_seconds = {interval}\n',
        encoding="utf-8",
    )
    return path


def rows(output: str) -> dict[str, str]:
    """The check table's rows (label -> text), joined across wrapped lines."""
    found: dict[str, str] = {}
    last = ""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) != 2:
            continue
        label, text = cells
        last = label or last
        found[last] = f"{found.get(last, '')} {text}".strip() if last in found and not label else text
    return found


def test_check_files_an_x_overspend_under_the_source_not_the_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer")
    monkeypatch.setenv("COLUMNS", "200")
    over = CliRunner().invoke(cli, ["--config", str(write_x_config(tmp_path, 10)), "check"])
    assert over.exit_code == 2
    table = rows(over.stdout)
    assert table["environment"] == "ok"  # the variables are all set
    assert table["budget mentions"].startswith("over budget: raise interval_seconds to at least")
    assert "sources.mentions.interval_seconds" in over.output  # the problem still names the key
    ok = CliRunner().invoke(cli, ["--config", str(write_x_config(tmp_path, 300)), "check"])
    assert ok.exit_code == 0, ok.output
    assert "budget mentions" not in rows(ok.stdout) and "[basic]" in ok.stdout  # the tier is shown, not eaten as markup
