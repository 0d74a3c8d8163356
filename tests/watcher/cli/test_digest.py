"""`watcher digest` end to end: terminal summary, HTML, CSV, and --post to a fake Slack."""

from __future__ import annotations

import base64
import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.fakes.slack_api import BOT_TOKEN, FakeSlack, running_fake_slack
from tests.watcher.digest.fixture import build
from watcher.cli.digest import digest
from watcher.store import Store

PNG = b"\x89PNG\r\n\x1a\n"
SUNDAY_ARGS = ["--since", "2026-10-25", "--now", "2026-10-26T08:00:00Z"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "watcher.db"
    with Store(path) as store:
        build(store)
    return path


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with running_fake_slack(channels={"marketing": "C0MKT"}) as fake:
        yield fake


def write_config(tmp_path: Path, db: Path, slack: FakeSlack | None = None, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    base = slack.base_url if slack else "https://slack.com/api/"
    path.write_text(
        f"""
[brand]
name = "Lumo"
timezone = "Europe/Rome"

[storage]
path = "{db.name}"

[slack]
bot_token_env = "TEST_DIGEST_TOKEN"
api_base_url = "{base}"
channel = "C0MKT"
moderators = ["U0LEAD01"]
{extra}
""",
        encoding="utf-8",
    )
    return path


def test_db_only_prints_the_summary_and_writes_html_and_csv(tmp_path: Path, db: Path) -> None:
    html, table = tmp_path / "report.html", tmp_path / "figures.csv"
    result = CliRunner().invoke(
        digest,
        ["--db", str(db), "--timezone", "Europe/Rome", *SUNDAY_ARGS, "--html", str(html), "--csv", str(table)],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "mention digest: Sun 25 Oct 2026" in out
    assert "Volume 4 mentions (+100% vs the previous period's 2)" in out
    assert "x 3 (+200%), reddit 1 (+0%)" in out
    assert "negative 50% (+0 pts)" in out
    assert "Themes in negative posts (en) waiting · refund (2, 100%)" in out
    assert "4 queue items: 2 handled, 1 dismissed, 1 escalated, 1 open" in out
    assert "median 50m, p90 1h 22m, within SLA 33%" in out
    assert "pass --config to leave them out" in out  # without a config the brand's names are unknown

    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # post text is escaped
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3 and all(base64.b64decode(i).startswith(PNG) for i in images)
    assert "http://" not in page.replace('href="https://example.invalid', "")  # nothing fetched

    rows = list(csv.DictReader(table.read_text(encoding="utf-8").splitlines()))
    figures = {(r["section"], r["group"], r["key"], r["metric"]): r["value"] for r in rows}
    assert figures[("volume", "total", "", "posts")] == "4"
    assert figures[("volume", "platform", "x", "previous_posts")] == "1"
    assert figures[("responses", "priority", "high", "median_seconds")] == "5400.0"
    assert figures[("responses", "all", "all", "sla_share")] == "0.333"
    assert figures[("themes", "en", "waiting · refund", "phrases")] == "refund; waiting"
    series = [r for r in rows if r["section"] == "series" and r["metric"] == "negative"]
    assert len(series) == 25 and sum(int(r["value"]) for r in series) == 2


def test_post_sends_the_summary_then_the_charts(
    tmp_path: Path, db: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, db, slack)
    result = CliRunner(env={"TEST_DIGEST_TOKEN": BOT_TOKEN}).invoke(
        digest, ["--config", str(config), *SUNDAY_ARGS, "--post", "--channel", "#marketing"]
    )
    assert result.exit_code == 0, result.output
    assert "Posted to Slack #marketing" in result.output  # a name works: chat.postMessage resolves it
    assert slack.calls[0].method == "chat.postMessage"
    (message,) = slack.all_messages()
    assert message["channel"] == "C0MKT" and "*Lumo mention digest: Sun 25 Oct 2026*" in message["text"]
    assert (
        "reach 5,000, <https://example.invalid/x/p2|x @user_p2>: "
        "\u201cstill waiting for my refund &lt;script&gt;alert(1)&lt;/script&gt;\u201d" in message["text"]
    )
    assert [f["name"] for f in slack.shared] == ["volume.png", "response_times.png", "themes.png"]
    assert all(f["channel"] == "C0MKT" and f["data"].startswith(PNG) for f in slack.shared)
    assert slack.shared[0]["initial_comment"] == "Charts for Sun 25 Oct 2026"
    assert slack.pending == {}


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, [], "environment variable TEST_DIGEST_TOKEN is not set"),
        ({"TEST_DIGEST_TOKEN": "xoxb-wrong"}, [], "invalid_auth; check the bot token"),
        ({"TEST_DIGEST_TOKEN": BOT_TOKEN}, ["--channel", "#nowhere"], "channel #nowhere: channel_not_found"),
    ],
)
def test_post_failures_say_what_to_do(
    tmp_path: Path, db: Path, slack: FakeSlack, env: dict[str, str], args: list[str], message: str
) -> None:
    config = write_config(tmp_path, db, slack)
    result = CliRunner(env={"TEST_DIGEST_TOKEN": None, **env}).invoke(  # type: ignore[dict-item]
        digest, ["--config", str(config), *SUNDAY_ARGS, "--post", *args]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert slack.shared == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "missing.db"], "no database at missing.db"),
        (["--since", "last tuesday"], "--since 'last tuesday' is not a date"),
        (["--since", "2026-10-25T10:00", "--until", "2026-10-25T09:00"], "must be after --since"),
        (["--post"], "--post needs a config"),
        (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_usage_errors_are_one_line_messages(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    base = [] if "--db" in args else ["--db", str(db)]
    result = CliRunner().invoke(digest, [*base, *args])
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_a_broken_config_names_file_and_key(tmp_path: Path, db: Path) -> None:
    config = write_config(tmp_path, db, extra="[digest]\nsla_minutes = { soon = 5 }\n")
    result = CliRunner().invoke(digest, ["--config", str(config)])
    assert result.exit_code == 2  # a config problem, as for every watcher command
    assert "digest.sla_minutes.soon: unknown priority" in result.output


def test_week_period_from_config_timezone(tmp_path: Path, db: Path) -> None:
    config = write_config(tmp_path, db)
    result = CliRunner().invoke(digest, ["--config", str(config), "--period", "week", "--now", "2026-10-26T08:00Z"])
    assert result.exit_code == 0, result.output
    assert "week of Mon 19 Oct 2026" in result.output and "Volume 6 mentions (new" in result.output
    assert "--config" not in result.output


def test_an_empty_database_gives_an_empty_digest(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Store(path).close()
    html = tmp_path / "empty.html"
    result = CliRunner().invoke(digest, ["--db", str(path), *SUNDAY_ARGS, "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "No mentions in this period" in result.output
    assert "no queue items" in result.output
    assert "No phrase recurred" in html.read_text(encoding="utf-8")


def test_charts_that_cannot_be_drawn_leave_the_report_without_them(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import watcher.digest.charts

    def broken(report: object) -> dict[str, bytes]:
        raise RuntimeError("no font cache")

    monkeypatch.setattr(watcher.digest.charts, "render_charts", broken)
    html = tmp_path / "report.html"
    result = CliRunner().invoke(
        digest, ["--db", str(db), "--timezone", "Europe/Rome", *SUNDAY_ARGS, "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    page = html.read_text(encoding="utf-8")
    assert "mention digest" in result.output and "Recurring themes in negative posts" in page
    assert not re.findall(r'src="data:image/png;base64,', page)  # the report, without its charts
    assert "watcher digest: the charts could not be drawn (no font cache)" in caplog.text
