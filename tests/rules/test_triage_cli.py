"""`watcher train` and `watcher rules test` through click, on a real SQLite store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from rules.triage import TriageContext, Triager
from tests.rules.conftest import BRAND, make_post
from watcher.cli.rules import rules, train
from watcher.store import Store

CONFIG = """
[brand]
name = "Lumo"
languages = ["en", "it", "es", "de", "fr", "pt", "ro"]

[storage]
path = "watcher.db"
"""
NEEDS_REPLY = [
    "where is my parcel? ordered two weeks ago",
    "the app logs me out every time, please fix",
    "I was charged a fee I never agreed to, refund please",
    "nobody answers the phone, what is going on?",
    "my order arrived broken, how do I return it?",
    "il pacco non è arrivato, potete aiutarmi?",
    "mi pedido llegó roto, ¿qué hago?",
    "still waiting for my refund from last month",
    "can you change my delivery slot?",
    "wrong item delivered again, sort it out",
    "my card was declined but money was taken, help",
    "how do I update my billing address?",
]
NO_REPLY = [
    "what a lovely sunny day",
    "watching football tonight",
    "follow and RT to win a free phone",
    "new blog post about gardening",
    "happy birthday mum",
    "coffee time",
    "check my channel for crypto tips",
    "reading a good book",
    "the concert was amazing last night",
    "weekend plans: nothing at all",
    "cats are the best",
    "just finished a 10k run",
]


def setup(tmp_path: Path, triager: Triager, *, feedback: bool = True, days_ago: float = 1) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    now = datetime.now(UTC)
    with Store(tmp_path / "watcher.db") as store:
        mixed = [t for pair in zip(NEEDS_REPLY, NO_REPLY, strict=True) for t in pair]
        for i, text in enumerate(mixed):
            post = replace(make_post(text, handle=f"user{i}"), created_at=now - timedelta(days=days_ago, minutes=i))
            result = triager.triage(post, TriageContext(brand=BRAND))
            store.posts.insert_post(post, result, fetched_at=now)
            if feedback:
                label = (
                    "replied"
                    if text in NEEDS_REPLY
                    else ("dismissed:spam", "dismissed:not_relevant", "dismissed:no_reply_needed")[i % 3]
                )
                store.items.add_feedback(post.key, label, actor="U1", now=now)
        if feedback:
            store.items.add_feedback(post.key, "dismissed:duplicate", actor="U1", now=now)
    return config


@pytest.mark.slow
def test_train_from_feedback_writes_a_versioned_model(tmp_path: Path, triager: Triager) -> None:
    config = setup(tmp_path, triager)
    out = tmp_path / "team_model.npz"
    result = CliRunner().invoke(train, ["--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "23 examples from feedback" in result.output
    assert "skipped labels: dismissed:duplicate x1" in result.output
    assert "held-back rows" in result.output and "AP" in result.output
    assert f"wrote {out}" in result.output and "enable it: set model_path" in result.output
    from rules.model import load_models

    _, header = load_models(out, kind="needs_reply")
    assert header["format_version"] == 1 and header["examples"] == 23
    from rules.engine import RuleSet

    tuned = Triager(rules=RuleSet(), model_path=out)
    assert tuned.model.team is not None
    p_reply = tuned.model.probability(tuned.signals("where is my parcel? still nothing"))
    p_noise = tuned.model.probability(tuned.signals("what a lovely day for football"))
    assert p_reply > p_noise


@pytest.mark.slow
def test_train_with_csv_and_bad_csv(tmp_path: Path, triager: Triager) -> None:
    config = setup(tmp_path, triager, feedback=False)
    good = tmp_path / "labels.csv"
    rows = ["text,label,lang"] + [f'"{t}",yes,' for t in NEEDS_REPLY] + [f'"{t}",no,en' for t in NO_REPLY]
    good.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(train, ["--config", str(config), "--csv", str(good), "--out", str(tmp_path / "m.npz")])
    assert result.exit_code == 0, result.output
    assert "0 examples from feedback, 24 from CSV" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,maybe\n", encoding="utf-8")
    result = CliRunner().invoke(train, ["--config", str(config), "--csv", str(bad)])
    assert result.exit_code == 2 and "line 2: label 'maybe'" in result.output


def test_train_refuses_too_little_data(tmp_path: Path, triager: Triager) -> None:
    config = setup(tmp_path, triager, feedback=False)
    result = CliRunner().invoke(train, ["--config", str(config)])
    assert result.exit_code == 1
    assert "need at least 20 examples with both outcomes" in result.output


def test_rules_test_replays_without_touching_the_queue(tmp_path: Path, triager: Triager) -> None:
    config = setup(tmp_path, triager, feedback=False)
    custom = tmp_path / "team_rules.toml"
    custom.write_text(
        """
[[rules]]
name = "billing to billing team"
all = { intent = ["billing"] }
then = { channel = "#care-billing", boost = 15 }

[[rules]]
name = "football is noise"
all = { keywords = ["football"] }
then = { suppress = true, priority = "low" }
""",
        encoding="utf-8",
    )
    with Store(tmp_path / "watcher.db") as store:
        before = [(p.key, store.posts.post_triage(p.key)) for p in store.posts.iter_posts()]
        items_before = store.items.count_items()
    result = CliRunner().invoke(rules, ["test", "--config", str(config), "--rules", str(custom), "--since", "7d"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "replayed 24 stored posts" in out
    assert "#care-billing" in out and "re-routed: 4" in out
    assert "billing to billing team" in out
    assert "suppressed" in out and "moved up:" in out
    with Store(tmp_path / "watcher.db") as store:
        assert [(p.key, store.posts.post_triage(p.key)) for p in store.posts.iter_posts()] == before
        assert store.items.count_items() == items_before


def test_rules_test_window_and_errors(tmp_path: Path, triager: Triager) -> None:
    config = setup(tmp_path, triager, feedback=False, days_ago=30)
    result = CliRunner().invoke(rules, ["test", "--config", str(config), "--since", "7d"])
    assert result.exit_code == 0 and "no stored posts in the last 7d" in result.output
    bad = tmp_path / "bad_rules.toml"
    bad.write_text("[[rules]]\nname = 'x'\nall = { intent = ['nope'] }\nthen = { boost = 1 }\n", encoding="utf-8")
    result = CliRunner().invoke(rules, ["test", "--config", str(config), "--rules", str(bad)])
    assert result.exit_code == 2
    assert f"rules error: {bad}: rules[1] ('x').all.intent: 'nope' is not one of" in result.output
    result = CliRunner().invoke(rules, ["test", "--config", str(config), "--since", "week"])
    assert result.exit_code == 2 and "use a number and a unit" in result.output


@pytest.mark.parametrize("missing", ["config.toml"])
def test_missing_config_is_a_clear_error(tmp_path: Path, missing: str) -> None:
    result = CliRunner().invoke(rules, ["test", "--config", str(tmp_path / missing)])
    assert result.exit_code == 2 and "file not found" in result.output
