"""The CLI after the split: a light start, `watcher check` running each source's own
check (Facebook against the fake Graph server), and `poll` summarising many cards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.connectors.meta.support import ENV, running_fake
from tests.helpers import T0
from watcher.cli.main import cli

HEAVY = ("numpy", "sklearn", "matplotlib", "slack_bolt", "slack_sdk", "tweepy", "praw", "httpx", "apscheduler")


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = f"import sys, watcher.cli.main; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def config_with(tmp_path: Path, sources: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[brand]\nname = "Lumo"\nlanguages = ["en"]\n\n[storage]\npath = "w.db"\n' + sources, encoding="utf-8"
    )
    return path


def test_check_runs_the_facebook_sources_own_check(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with running_fake() as fake:
        config = config_with(
            tmp_path,
            f'\n[sources.page]\nkind = "facebook"\npage_id = "{fake.page_id}"\ntoken_env = "FACEBOOK_PAGE_TOKEN"\n'
            f'app_token_env = "META_APP_TOKEN"\ngraph_url = "{fake.base_url}"\n',
        )
        good = CliRunner().invoke(cli, ["--config", str(config), "check"])
        assert good.exit_code == 0, good.output
        fake.scopes = ("pages_read_engagement",)
        bad = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert bad.exit_code == 2, bad.output
    table = " ".join(bad.stdout.split())
    assert "│ source page │ page: the token lacks" in table and "pages_manage_engagement" in table, bad.stdout
    assert "page-token" not in bad.output


def test_a_directory_as_a_replay_path_is_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    config = config_with(tmp_path, '\n[sources.hist]\nkind = "replay"\npath = "exports"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 2
    assert "sources.hist.path" in result.output and "is a directory" in result.output


def export_of(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "export.jsonl"
    rows = (
        {"id": str(n), "platform": "x", "text": f"I was charged twice for order {n}, refund now!", "author": f"u{n}"}
        for n in range(count)
    )
    path.write_text("".join(json.dumps({**r, "created_at": T0.isoformat()}) + "\n" for r in rows), encoding="utf-8")
    return path


def poll_export(tmp_path: Path, count: int) -> str:
    export = export_of(tmp_path, count)
    config = config_with(
        tmp_path, f'\n[sources.hist]\nkind = "replay"\npath = "{export.as_posix()}"\nbatch_size = 500\n'
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "poll"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_poll_prints_a_few_new_cards_in_full(tmp_path: Path) -> None:
    out = poll_export(tmp_path, 3)
    assert out.count("order ") == 3 and "new cards (" not in out


def test_poll_summarises_many_new_cards(tmp_path: Path) -> None:
    out = poll_export(tmp_path, 40)
    assert "40 new cards (" in out and "watcher queue" in out
    assert sum(f"order {n}," in out for n in range(40)) == 5  # the first few, not all forty
