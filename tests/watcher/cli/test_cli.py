from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.helpers import T0
from watcher.cli.demo import sample_path
from watcher.cli.main import cli
from watcher.store import SCHEMA_VERSION


def write_config(tmp_path: Path, export: Path | None = None) -> Path:
    source = ""
    if export is not None:
        source = f'\n[sources.hist]\nkind = "replay"\npath = "{export.as_posix()}"\nbatch_size = 3\n'
    path = tmp_path / "config.toml"
    path.write_text(
        '[brand]\nname = "Lumo"\nlanguages = ["en", "it"]\n\n[storage]\npath = "w.db"\n' + source, encoding="utf-8"
    )
    return path


def write_export(tmp_path: Path) -> Path:
    rows = [
        {
            "id": "1",
            "platform": "x",
            "text": "I was charged twice for one order!!",
            "author": {"id": "a", "handle": "a"},
        },
        {
            "id": "2",
            "platform": "x",
            "text": "giveaway! follow and rt to win crypto",
            "author": {"id": "b", "handle": "b"},
        },
        {"id": "3", "platform": "x", "text": "how do I change my PIN?", "author": {"id": "c", "handle": "c"}},
        {"id": "4", "platform": "x", "text": "app down again, can't log in", "author": {"id": "d", "handle": "d"}},
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps({**r, "created_at": T0.isoformat()}) for r in rows) + "\n", encoding="utf-8")
    return path


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", [(), *all_commands(cli)])
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_score_writes_one_line_per_input_line_in_order_with_errors_in_place(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "text": "My card reader caught fire!", "platform": "x", "author": "ann"}),
        "{not json",
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": "great app, thanks!", "created_at": "2026-11-20T10:00:00Z", "lang_hint": "en"}),
        json.dumps({"id": "d", "text": "x", "created_at": "yesterday"}),
        json.dumps(["a", "list"]),
    ]
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.toml"), "score", "-"], input="\n".join(lines))
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 6
    assert out[0]["id"] == "a" and out[0]["priority"] == "urgent" and out[0]["needs_reply"] is True
    assert set(out[0]) == {
        "id",
        "score",
        "needs_reply",
        "priority",
        "sentiment",
        "sentiment_label",
        "lang",
        "intents",
        "reasons",
    }
    assert out[1] == {"id": None, "line": 2, "error": out[1]["error"]} and "line 2: not valid JSON" in out[1]["error"]
    assert out[2]["id"] == "b" and "missing required field 'text'" in out[2]["error"]
    assert out[3]["id"] == "c" and out[3]["sentiment_label"] == "positive"
    assert "created_at" in out[4]["error"] and out[4]["line"] == 5
    assert "expected a JSON object" in out[5]["error"]
    assert "4 line(s) could not be scored" in result.stderr


def test_score_reads_a_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": "where is my parcel?"}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.toml"), "score", str(source)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["id"] == 1


def test_poll_once_then_queue_shows_the_ranked_items(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_export(tmp_path))
    runner = CliRunner()
    polled = runner.invoke(cli, ["--config", str(config), "poll", "--once"])
    assert polled.exit_code == 0, polled.output
    assert "hist" in polled.stdout and "ok" in polled.stdout
    again = runner.invoke(cli, ["--config", str(config), "poll", "--once"])
    assert again.exit_code == 0
    listed = runner.invoke(cli, ["--config", str(config), "queue", "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["post_key"] for r in rows][:2] in (["x:1", "x:4"], ["x:4", "x:1"])
    assert all(r["priority"] == "urgent" for r in rows[:2])
    assert "x:2" not in {r["post_key"] for r in rows}  # spam is not queued
    table = runner.invoke(cli, ["--config", str(config), "queue", "--priority", "urgent"])
    assert "charged twice" in table.stdout and "PIN" not in table.stdout
    unknown = runner.invoke(cli, ["--config", str(config), "poll", "--source", "nope"])
    assert unknown.exit_code == 2 and "unknown source(s) nope" in unknown.output


def test_check_reports_ok_and_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path, write_export(tmp_path))
    ok = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert ok.exit_code == 0, ok.output
    assert f"schema v{SCHEMA_VERSION}" in ok.stdout and "hist (replay)" in ok.stdout
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[slack]\nenabled = true\nbot_token_env = "MY_BOT"\nchannel = "C0123ABCD"\n'
        'moderators = ["U0123ABCD"]\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("MY_BOT", raising=False)
    bad = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert bad.exit_code == 2
    assert "slack.bot_token_env: environment variable MY_BOT is not set" in bad.output


def test_check_says_which_source_is_rate_limited_and_until_when(tmp_path: Path) -> None:
    from datetime import timedelta

    from watcher.core.post import utc_now
    from watcher.store import Store

    config = write_config(tmp_path, write_export(tmp_path))
    until = utc_now() + timedelta(minutes=20)
    with Store(tmp_path / "w.db") as store:
        store.sources.save_source_state(
            "hist",
            healthy=True,
            message=f"rate limited until {until:%H:%M:%S} UTC",
            failures=0,
            backoff_until=until,
            rate_limits={"search_recent": until},
            last_success_at=None,
        )
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.stdout.replace("│", " ").split())  # the table's wrapped cell, as one line
    assert f"source hist rate limited (search_recent) until {until:%Y-%m-%d %H:%M} UTC; not polled yet" in flat
    assert "outbox 0 delivered, 0 waiting, 0 failed" in flat


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.toml"), "queue"])
    assert result.exit_code == 2
    assert "nope.toml: file not found; copy config.example.toml" in result.output


def test_demo_runs_the_sample_end_to_end(tmp_path: Path) -> None:
    total = sum(1 for line in sample_path().read_text(encoding="utf-8").splitlines() if line.strip())
    assert total >= 300
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(cli, ["demo", "--fast", "--db", str(db), "--show", "10"])
    assert result.exit_code == 0, result.output
    assert f"{total}/{total} posts replayed" in result.stdout
    assert "closed as answered by the brand" in " ".join(result.stdout.split())
    assert "Top 10 of the ranked queue" in result.stdout
    from watcher.store import Store

    with Store(db) as store:
        rows = store.items.queue_rows(limit=1000)
        assert rows and rows[0].item.priority == "urgent"
        assert store.posts.count_posts() > 250
        assert store.db.execute("SELECT COUNT(*) FROM posts WHERE duplicate_of IS NOT NULL").fetchone()[0] >= 5
        assert store.outbox.outbox_counts().get("sent") == store.items.count_items()  # one card per item, none twice
        # the brand's own replies in the sample close the items they answer
        assert store.items.count_items(states=("answered_elsewhere",)) >= 10


@pytest.mark.slow
def test_demo_drips_in_real_time(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--duration", "1.5", "--show", "3"])
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stdout.splitlines() if "posts replayed" in line]
    assert len(progress) >= 2  # released over several polls, not at once


def test_check_shows_the_x_request_budget_and_flags_an_overspend(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    monkeypatch.setenv("X_BEARER_TOKEN", "test-bearer")
    source = '\n[sources.mentions]\nkind = "x"\nmode = "mentions"\nuser_id = "900000001"\ninterval_seconds = {}\n'
    base = config.read_text(encoding="utf-8")
    config.write_text(base + source.format(300), encoding="utf-8")
    ok = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert ok.exit_code == 0, ok.output
    assert "request budget" in ok.stdout and "/2/users/:id/mentions" in ok.stdout
    assert "test-bearer" not in ok.output
    config.write_text(base + source.format(10), encoding="utf-8")
    over = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert over.exit_code == 2
    assert "sources.mentions.interval_seconds" in over.output


def test_check_counts_slacks_native_reply_checks_in_the_x_budget(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    for name in ("X_BEARER_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "test-secret")
    base = config.read_text(encoding="utf-8") + "".join(
        f'\n[sources.{name}]\nkind = "x"\nmode = "{mode}"\nuser_id = "{user}"\ninterval_seconds = 300\n'
        for name, mode, user in (("mentions", "mentions", "900000001"), ("threads", "conversations", "900000002"))
    )
    slack = '\n[slack]\nenabled = true\nchannel = "C0123ABCD"\nmoderators = ["U0123ABCD"]\nnative_reply_check_minutes = {}\n'
    config.write_text(base + slack.format(10), encoding="utf-8")
    ok = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert ok.exit_code == 0, ok.output
    assert "/2/users/:id/tweets" in ok.stdout  # the brand timeline the checks read
    config.write_text(base + slack.format(5), encoding="utf-8")
    over = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert over.exit_code == 2
    assert "slack.native_reply_check_minutes" in over.output and "at least 8" in over.output
    assert "test-secret" not in over.output


def test_poll_once_delivers_cards_to_slack_when_enabled(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.slack_api import BOT_TOKEN, running_fake_slack

    config = write_config(tmp_path, write_export(tmp_path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    with running_fake_slack() as fake:
        config.write_text(
            config.read_text(encoding="utf-8")
            + f'\n[slack]\nenabled = true\napi_base_url = "{fake.base_url}"\nchannel = "CCARE"\n'
            'moderators = ["UANA"]\nmessages_per_second = 5.0\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["--config", str(config), "poll", "--once"])
        assert result.exit_code == 0, result.output
        cards = [m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]
        assert len(cards) == 3  # charged twice, PIN question, app down; not the giveaway spam
        again = CliRunner().invoke(cli, ["--config", str(config), "poll", "--once"])
        assert again.exit_code == 0
        assert len([m for m in fake.channel_messages("CCARE") if "thread_ts" not in m]) == 3
    assert BOT_TOKEN not in result.output


def test_queue_shows_each_items_sla_clock(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_export(tmp_path))
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "poll", "--once"]).exit_code == 0
    listed = runner.invoke(cli, ["--config", str(config), "queue", "--json"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    # the items were queued just now; urgent ones run around the clock on a 15-minute target
    assert all(r["sla"].startswith("claim within") for r in rows if r["priority"] == "urgent")
    table = runner.invoke(cli, ["--config", str(config), "queue"])
    assert "SLA" in table.stdout and "claim within" in " ".join(table.stdout.split())


def test_check_plans_one_native_check_per_brand_account_and_names_who_shares_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    for name in ("X_BEARER_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "test-secret")
    monkeypatch.setenv("COLUMNS", "400")  # one table row per budget line
    sources = "".join(
        f'\n[sources.{name}]\nkind = "x"\nmode = "{mode}"\nuser_id = "900000001"\n{extra}'
        for name, mode, extra in (
            ("mentions", "mentions", ""),
            ("threads", "conversations", ""),
            ("old_search", "search", 'query = "lumo"\nenabled = false\n'),
        )
    )
    slack = (
        '\n[slack]\nenabled = true\nchannel = "C0123ABCD"\nmoderators = ["U0123ABCD"]\nnative_reply_check_minutes = 5\n'
    )
    config.write_text(config.read_text(encoding="utf-8") + sources + slack, encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "check"])

    assert result.exit_code == 0, result.output  # one timeline, 2 pages, 3 checks: 6 of 10
    [line] = [line for line in result.stdout.splitlines() if "/2/users/:id/tweets" in line]
    assert "6 of 10 requests per 15 min" in line and "by mentions, threads, old_search" in line
    assert "mentions, threads and old_search share one read (same app and user_id)" in line
    assert "old_search disabled but still checked for open items" in line
    assert "1 enabled" not in result.stdout and "2 enabled: mentions (x), threads (x)" in result.stdout


def test_check_warns_of_a_disabled_source_whose_open_items_cannot_be_checked(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path)
    for name in ("X_BEARER_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "test-secret")
    monkeypatch.delenv("X_OLD_BEARER", raising=False)
    monkeypatch.setenv("COLUMNS", "400")
    sources = (
        '\n[sources.mentions]\nkind = "x"\nmode = "mentions"\nuser_id = "900000001"\n'
        '\n[sources.old_app]\nkind = "x"\nmode = "search"\nquery = "lumo"\nuser_id = "900000001"\n'
        'bearer_token_env = "X_OLD_BEARER"\nenabled = false\n'
    )
    slack = '\n[slack]\nenabled = true\nchannel = "C0123ABCD"\nmoderators = ["U0123ABCD"]\n'
    config.write_text(config.read_text(encoding="utf-8") + sources + slack, encoding="utf-8")

    result = CliRunner().invoke(cli, ["--config", str(config), "check"])

    assert result.exit_code == 0, result.output  # never polled: a warning, not a config problem
    [row] = [line for line in result.stdout.splitlines() if "disabled old_app" in line]
    assert "its open items cannot be checked for native replies" in row and "X_OLD_BEARER" in row
    assert "answer or dismiss them in Slack" in row
    assert "test-secret" not in result.output

    quiet = config.read_text(encoding="utf-8") + "native_reply_check_minutes = 0\n"
    config.write_text(quiet, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "check"])
    assert result.exit_code == 0 and "disabled old_app" not in result.stdout  # nothing asks it then
