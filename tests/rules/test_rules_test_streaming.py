"""`watcher rules test` in constant memory: a sliding repeat count and a running summary
that give what counting over each author's whole history and sorting every change gave."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from rules.facts import TriageContext
from rules.rule_file import load_ruleset
from rules.triage import Triager
from tests.conftest import T0
from tests.rules.conftest import make_post
from watcher.cli.rules import RepeatWindow, ReplaySummary


def test_the_sliding_count_matches_counting_over_the_history() -> None:
    rng = random.Random(5)
    window = timedelta(hours=5)
    # ties on purpose: posts at the same minute do not count each other
    posts = sorted((T0 + timedelta(minutes=rng.randrange(3000)), f"a{rng.randrange(6)}") for _ in range(800))
    sliding = RepeatWindow(window)
    got = [sliding.count(author, at) for at, author in posts]
    expected = [sum(1 for t, a in posts if a == author and at - window <= t < at) for at, author in posts]
    assert got == expected


def triage(priority: str, score: int, channel: str = "") -> SimpleNamespace:
    return SimpleNamespace(
        priority=priority,
        score=score,
        channel=channel,
        needs_reply=True,
        suppress=False,
        digest_only=False,
        rules_fired=(),
    )


def test_the_summary_keeps_the_largest_changes_first_met_first() -> None:
    summary = ReplaySummary(examples=2)
    changes = [(5, 20), (7, 30), (9, 30), (11, 5), (13, 30)]  # (post number, score gain)
    for n, gain in changes:
        post = SimpleNamespace(key=f"x:{n}", text=f"post {n}")
        summary.add(post, triage("low", 10), triage("low", 10 + gain, "#billing" if n > 8 else ""))
    runner = CliRunner()
    with runner.isolation() as (out, _, _):
        summary.report(before_name="a", after_name="b")
        text = out.getvalue().decode()
    up = text.split("moved up: 5\n")[1].split("moved down")[0].splitlines()
    assert [line.split(":")[1] for line in up] == ["7", "9"]  # 30, 30 (the first two met), not 13
    rerouted = text.split("re-routed: 3\n")[1].splitlines()
    assert [line.split(":")[1] for line in rerouted] == ["9", "13"]
    assert "#billing             0       3      +3" in text


def test_triage_under_two_rule_sets_reads_the_texts_once(triager: Triager, ctx: TriageContext, tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    path.write_text(
        '[[rules]]\nname = "billing team"\nall = { intent = ["billing"] }\nthen = { channel = "#billing", boost = 15 }\n',
        encoding="utf-8",
    )
    team = load_ruleset(path)
    posts = [make_post(text) for text in ("charged twice for one payment", "La bolletta è sbagliata", "nice app")]
    contexts = [ctx] * len(posts)
    before, after = triager.triage_many_each(posts, contexts, [triager.rules, team])
    assert before == triager.triage_many(posts, contexts)
    assert after == triager.with_rules(team).triage_many(posts, contexts)
    assert before != after
