from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.replay import ReplayConnector
from watcher.cli.main import cli
from watcher.config import load_config, parse_config, slack_env_problems
from watcher.core.config import ConfigError, SourceOptions

ROOT = Path(__file__).resolve().parents[2]


def problems_of(data: dict, file: str = "cfg.toml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, file=file)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "cfg.toml: brand: missing section"),
        ({"brand": {}}, "cfg.toml: brand.name: missing; this key is required"),
        ({"brand": {"name": "L", "langs": ["en"]}}, "brand.langs: unknown key 'langs'; did you mean 'languages'?"),
        ({"brand": {"name": 3}}, "brand.name: expected a string in quotes, got 3 (int)"),
        ({"brand": {"name": "L"}, "triage": {"urgent_score": "high"}}, "triage.urgent_score: expected a whole number"),
        (
            {"brand": {"name": "L"}, "pipeline": {"drop_reposts": "yes"}},
            "pipeline.drop_reposts: expected true or false",
        ),
        ({"brand": {"name": "L", "timezone": "Mars/Base"}}, "brand.timezone: unknown time zone 'Mars/Base'"),
        ({"brand": {"name": "L", "languages": ["english"]}}, "brand.languages: 'english' is not a two-letter"),
        ({"brand": {"name": "L"}, "sourcez": {}}, "sourcez: unknown section 'sourcez'; did you mean 'sources'?"),
        ({"brand": {"name": "L"}, "sources": {"a": {"kind": "myspace"}}}, "sources.a.kind: unknown connector kind"),
        ({"brand": {"name": "L"}, "sources": {"a": {"path": "x"}}}, "sources.a.kind: missing"),
        (
            {"brand": {"name": "L"}, "sources": {"a": {"kind": "replay", "interval_seconds": 0}}},
            "sources.a.interval_seconds: must be a positive number",
        ),
        (
            {"brand": {"name": "L"}, "triage": {"high_score": 90}},
            "triage: scores must rise: normal_score < high_score < urgent_score",
        ),
        ({"brand": {"name": "L"}, "slack": {"mode": "carrier-pigeon"}}, 'slack.mode: must be "socket" or "http"'),
    ],
)
def test_each_problem_names_file_key_and_reason(data: dict, expected: str) -> None:
    found = problems_of(data)
    assert any(expected in p for p in found), found


def test_all_problems_are_reported_at_once() -> None:
    found = problems_of({"brand": {"name": 1, "timezone": 2}, "storage": {"path": 3}})
    assert len(found) == 3


@pytest.mark.parametrize("key", ["bot_token", "api_key", "client_secret", "password"])
def test_a_secret_in_the_file_is_refused_without_echoing_it(key: str) -> None:
    found = problems_of({"brand": {"name": "L"}, "sources": {"a": {"kind": "replay", key: "s3cr3t-value"}}})
    assert any(f"sources.a.{key}: secrets must not be written in the config file" in p for p in found)
    assert not any("s3cr3t-value" in p for p in found)
    found = problems_of({"brand": {"name": "L"}, "slack": {"bot_token": "xoxb-123"}})
    assert any("slack.bot_token: secrets must not be written" in p for p in found)


X_TOKEN = (
    "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2Xz"  # shaped like one, not real
)
REDDIT_SECRET = "fGh6TqAb-9Kd0LmNoPq2RsTuVwXy"  # shaped like one, not real


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"sources": {"a": {"kind": "x", "mode": "search", "query": "lumo", "bearer_token_env": X_TOKEN}}},
            "sources.a.bearer_token_env",
        ),
        ({"sources": {"a": {"kind": "reddit", "client_secret_env": REDDIT_SECRET}}}, "sources.a.client_secret_env"),
        ({"sources": {"a": {"kind": "x", "reply_access_token_env": X_TOKEN}}}, "sources.a.reply_access_token_env"),
        ({"slack": {"bot_token_env": "xoxb-1234-5678-abcdefABCDEF"}}, "slack.bot_token_env"),
    ],
)
def test_a_secret_pasted_into_an_env_key_is_refused_without_echoing_it(data: dict, key: str) -> None:
    """The message used to say "environment variable <the token> is not set", and optional reply keys took the
    token silently and quoted it in every send's error."""
    found = problems_of({"brand": {"name": "L"}, **data})
    assert any(p.startswith(f"cfg.toml: {key}: must name an environment variable") for p in found), found
    assert "revoke it" in " ".join(found)
    for secret in (X_TOKEN, REDDIT_SECRET, "xoxb-1234"):
        assert not any(secret in p for p in found)


def test_a_lowercase_variable_name_works_and_is_not_repeated_when_unset() -> None:
    """Lowercase names are valid (they worked before); but a secret of letters and digits only
    (a Reddit client secret can be) fits the same pattern, so an unset one is not echoed."""
    cfg = parse_config({"brand": {"name": "L"}, "sources": {"r": {"kind": "replay", "token_env": "x_bearer"}}})
    assert SourceOptions(cfg.sources[0], {"x_bearer": "t0ken"}).secret("token_env", "X") == "t0ken"
    pasted = "fGh6TqAbx9Kd0LmNoPq2RsTuVwXy"  # letters and digits only: shaped like a name
    cfg = parse_config({"brand": {"name": "L"}, "sources": {"r": {"kind": "replay", "token_env": pasted}}})
    options = SourceOptions(cfg.sources[0], {})
    options.secret("token_env", "X")
    (problem,) = options.problems
    assert pasted not in str(problem)
    assert str(problem).endswith(
        "sources.r.token_env: the environment variable this key names is not set; export it before starting the "
        "watcher (if you pasted a secret here instead of a variable's name, remove it from the file and revoke it)"
    )
    assert slack_env_problems(
        parse_config(
            {
                "brand": {"name": "L"},
                "slack": {
                    "enabled": True,
                    "bot_token_env": pasted,
                    "channel": "C0123ABCD",
                    "moderators": ["U0123ABCD"],
                },
            }
        ),
        {},
    )[0].reason.startswith("the environment variable")


def test_source_options_report_missing_env_and_unknown_keys(tmp_path: Path) -> None:
    cfg = parse_config(
        {"brand": {"name": "L"}, "sources": {"s": {"kind": "replay", "token_env": "NOPE_TOKEN", "colour": "red"}}},
        file="c.toml",
    )
    opts = SourceOptions(cfg.sources[0], env={})
    opts.secret("token_env", "DEFAULT_TOKEN")
    with pytest.raises(ConfigError) as caught:
        opts.finish()
    text = str(caught.value)
    assert "c.toml: sources.s.token_env: environment variable NOPE_TOKEN is not set" in text
    assert "c.toml: sources.s.colour: unknown key 'colour'" in text


def test_replay_source_with_missing_file_says_which_file(tmp_path: Path) -> None:
    cfg = parse_config(
        {"brand": {"name": "L"}, "sources": {"h": {"kind": "replay", "path": "gone.jsonl"}}},
        file=str(tmp_path / "c.toml"),
    )
    with pytest.raises(ConfigError) as caught:
        ReplayConnector.from_config(cfg.sources[0], {})
    assert f"sources.h.path: file {tmp_path / 'gone.jsonl'} does not exist" in str(caught.value)


def test_slack_env_problems_only_when_enabled() -> None:
    cfg = parse_config(
        {"brand": {"name": "L"}, "slack": {"enabled": True, "channel": "C0123ABCD", "moderators": ["U0123ABCD"]}}
    )
    found = [str(p) for p in slack_env_problems(cfg, {})]
    assert any("slack.bot_token_env: environment variable SLACK_BOT_TOKEN is not set" in p for p in found)
    assert slack_env_problems(parse_config({"brand": {"name": "L"}}), {}) == []


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; copy config.example.toml"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[brand\nname = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = ROOT / "config.example.toml"
    config = load_config(example)
    assert config.brand.name
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    from watcher.config import SECTIONS

    for section, cls in SECTIONS.items():
        documented = set(data.get(section, {}))
        for field_name in cls.__dataclass_fields__:
            assert field_name in documented, f"config.example.toml lacks {section}.{field_name}"


def test_cli_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('[brand]\nname = "L"\ncolour = "red"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bad), "check"])
    assert result.exit_code == 2
    assert "brand.colour: unknown key 'colour'" in result.output
    assert "Traceback" not in result.output
