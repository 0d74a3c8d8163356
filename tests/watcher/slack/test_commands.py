"""`watcher slack manifest|flush` through click's runner, Slack calls to the fake."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.fakes.slack_api import BOT_TOKEN
from watcher.cli.slack import connector_for_config, manifest_text, slack
from watcher.config import load_config
from watcher.store import Store

from .conftest import ingest, make_post


def test_manifest_file_is_the_socket_mode_manifest():
    shipped = Path(__file__).resolve().parents[3] / "watcher" / "slack" / "manifest.yml"
    body = "".join(line + "\n" for line in shipped.read_text().splitlines() if not line.startswith("#"))
    assert body == manifest_text()
    result = CliRunner().invoke(slack, ["manifest"])
    assert result.exit_code == 0 and result.output == body
    assert "socket_mode_enabled: true" in body and "- usergroups:read" in body


def test_http_manifest_needs_an_https_request_url():
    runner = CliRunner()
    refused = runner.invoke(slack, ["manifest", "--mode", "http"])
    assert refused.exit_code == 2 and "--request-url" in refused.output
    ok = runner.invoke(slack, ["manifest", "--mode", "http", "--request-url", "https://care.example/slack/events"])
    assert "request_url: https://care.example/slack/events" in ok.output and "socket_mode_enabled: false" in ok.output


def write_config(tmp_path: Path, base_url: str) -> Path:
    (tmp_path / "export.jsonl").write_text("", encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[brand]
name = "Acme"
[storage]
path = "w.db"
[slack]
enabled = true
api_base_url = "{base_url}"
channel = "CCARE"
moderators = ["UANA"]
messages_per_second = 5.0
[sources.x_mentions]
kind = "replay"
path = "export.jsonl"
platform = "x"
replies_path = "replies.jsonl"
""",
        encoding="utf-8",
    )
    return path


def test_flush_delivers_the_outbox(tmp_path, fake, clock):
    path = write_config(tmp_path, fake.base_url)
    config = load_config(path)
    with Store(tmp_path / "w.db") as store:
        ingest(store, config, clock, make_post("1"))
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-test"}
    result = CliRunner().invoke(slack, ["flush", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    # the post is days old by the real clock: card, its thread, an SLA reminder, the card redrawn as late
    assert "reminders 1" in result.output and "delivered 4" in result.output
    assert len(fake.calls_to("chat.postMessage")) == 3 and len(fake.calls_to("chat.update")) == 1


def test_flush_without_tokens_says_which_variable(tmp_path, fake):
    path = write_config(tmp_path, fake.base_url)
    result = CliRunner().invoke(
        slack, ["flush", "--config", str(path)], env={"SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": ""}
    )
    assert (
        result.exit_code == 2  # a missing env var is a config problem, as for every watcher command
        and "slack.bot_token_env: environment variable SLACK_BOT_TOKEN is not set" in result.output
    )
    assert fake.calls == []


def test_connector_for_config_replies_through_the_posts_source(tmp_path, fake):
    config = load_config(write_config(tmp_path, fake.base_url))
    connector_for = connector_for_config(config, {})
    post = make_post("7")
    connector = connector_for(post)
    assert connector is connector_for(make_post("8"))  # one connector per source, built once
    connector.reply(post, "hello")
    row = json.loads((tmp_path / "replies.jsonl").read_text())
    assert row["in_reply_to"] == "x:7" and row["text"] == "hello"


def test_documented_config_is_valid_and_covers_every_slack_key():
    import tomllib
    from dataclasses import fields

    from watcher.config import SlackConfig, parse_config

    docs = Path(__file__).resolve().parents[3] / "config.example.toml"
    table = tomllib.loads(docs.read_text(encoding="utf-8"))
    config = parse_config(table)
    assert config.slack.templates["question"]["it"][0].startswith("Ciao {handle}")
    assert {f.name for f in fields(SlackConfig)} == set(table["slack"])


def test_serve_and_flush_refuse_without_a_channel(tmp_path, fake):
    path = write_config(tmp_path, fake.base_url)
    path.write_text(path.read_text().replace('channel = "CCARE"\n', ""), encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-test"}
    result = CliRunner().invoke(slack, ["flush", "--config", str(path)], env=env)
    assert result.exit_code == 2 and "slack.channel: missing: the channel (id or #name)" in result.output


def test_serve_and_flush_refuse_when_slack_is_disabled(tmp_path, fake):
    path = write_config(tmp_path, fake.base_url)
    path.write_text(path.read_text().replace("enabled = true", "enabled = false", 1), encoding="utf-8")
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-test"}
    result = CliRunner().invoke(slack, ["flush", "--config", str(path)], env=env)
    assert result.exit_code == 2
    assert f"{path}: slack.enabled: is false; set it to true" in result.output
    assert "Traceback" not in result.output and fake.calls == []
