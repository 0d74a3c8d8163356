"""Rules add bounded evidence to the learned model; they do not outvote it (issue 20)."""

from __future__ import annotations

from pathlib import Path

from rules.rule_file import load_ruleset
from rules.triage import TriageContext, Triager
from tests.rules.conftest import BRAND, make_post

COMPLAINT = "delivery was late again"  # the model: about 0.3, no rule fires
CHATTER = "nice weather today, off to the beach"


def test_a_team_boost_does_not_overturn_a_clear_model_gap(triager: Triager, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text("[[rules]]\nname = 'beach'\nall = { keywords = ['beach'] }\nthen = { boost = 40 }\n")
    team = triager.with_rules(load_ruleset(rules_file))
    ctx = TriageContext(brand=BRAND)
    complaint, chatter = (team.triage(make_post(t), ctx) for t in (COMPLAINT, CHATTER))
    assert complaint.model_probability > 0.2 > 0.05 > chatter.model_probability
    plain = triager.triage(make_post(CHATTER), ctx)
    assert plain.score < chatter.score < complaint.score  # evidence lifts it, but not past the model's clear call
    assert "rule 'beach' (+40)" in chatter.reasons  # and the card still says why


def test_priority_places_posts_in_the_band_by_the_model(triager: Triager) -> None:
    ctx = TriageContext(brand=BRAND)
    texts = ["my charger caught fire", "my charger caught fire and burned my hand, nobody answers, refund now"]
    results = [triager.triage(make_post(t), ctx) for t in texts]
    assert all(r.priority == "urgent" for r in results)
    scores = {r.score for r in results}
    assert len(scores) == 2, scores  # no tie at the band's floor
