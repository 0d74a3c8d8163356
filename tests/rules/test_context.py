"""Urgent words only in context, demands, churn, negation and sarcasm (issue 20).

Posts here are not in bench/stress_set.jsonl: the bench measures on posts the tests
never pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules.context import load_context
from rules.triage import Triage, TriageContext, Triager
from tests.rules.conftest import BRAND, make_post
from watcher.core.config import ConfigError


def judge(triager: Triager, text: str) -> Triage:
    return triager.triage(make_post(text), TriageContext(brand=BRAND))


@pytest.mark.parametrize(
    "text",
    [
        "Our support lead has been on fire this week, closed every ticket before lunch",
        "Burned through my whole weekend playing the new level, worth it",
        "Met a friend at the food court after work",
        "Massive fire on the motorway near junction 4, avoid the area",
        "La nostra squadra è in fiamme questa settimana, tre vittorie",
    ],
)
def test_urgent_words_in_another_sense_are_not_urgent(triager: Triager, text: str) -> None:
    got = judge(triager, text)
    assert got.priority != "urgent", got.reasons
    assert any("not counted" in r for r in got.reasons)


@pytest.mark.parametrize(
    "text",
    [
        "@lumo the power bank you sold me caught fire in my bag",
        "Il caricabatterie ha preso fuoco",
        "@lumo my lawyer will be in touch about the damage",
    ],
)
def test_urgent_words_in_context_stay_urgent(triager: Triager, text: str) -> None:
    assert judge(triager, text).priority == "urgent"


def test_a_negated_urgent_word_is_set_aside(triager: Triager) -> None:
    got = judge(triager, "@lumo my charger gets warm but there was no fire, is that normal?")
    assert got.priority != "urgent" and got.needs_reply
    assert "'fire' not counted: negated ('no')" in got.reasons


@pytest.mark.parametrize(
    "text",
    [
        "@lumo fix my router today",
        "@lumo voglio parlare con un responsabile",
        "@lumo quiero la factura corregida hoy",
        "@lumo ich will eine Rechnung ohne Fehler",
    ],
)
def test_demands_without_a_question_mark_need_a_reply(triager: Triager, text: str) -> None:
    assert judge(triager, text).needs_reply


@pytest.mark.parametrize(
    "text",
    [
        "@lumo you have lost a customer after ten years",
        "@lumo avete perso un cliente fedele",
        "@lumo nunca mas compro nada en vuestra tienda",
    ],
)
def test_churn_without_cancel_words_is_urgent(triager: Triager, text: str) -> None:
    got = judge(triager, text)
    assert "churn" in got.intents and got.priority == "urgent"


def test_promo_words_in_a_question_about_my_order_are_not_spam(triager: Triager) -> None:
    got = judge(triager, "@lumo my promo code was not applied to my order, can you check?")
    assert not got.suppress and got.needs_reply and "spam" not in got.intents
    spam = judge(triager, "Giveaway! use promo code WIN at http://x.example to win a phone, why not?")
    assert spam.suppress


def test_negated_praise_is_not_praise(triager: Triager) -> None:
    got = judge(triager, "@lumo not impressed with the new firmware, the screen flickers")
    assert "praise" not in got.intents and got.needs_reply


def test_sarcastic_praise_asks_for_a_reply(triager: Triager) -> None:
    got = judge(triager, "Bravissimi @lumo, il router è di nuovo rotto")
    assert got.needs_reply and "sarcasm" in " ".join(got.reasons)


def test_a_bad_context_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "context.toml"
    tables = "".join(f"[{lang}]\nperson = ['i']\n" for lang in BRAND.languages)
    path.write_text(tables + "[en.x]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown key"):
        load_context(path)
    path.write_text(tables.replace("['i']", "['(']", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"en\.person\[0\]"):
        load_context(path)


def test_a_big_boost_is_bounded_evidence_not_a_pile_up(triager: Triager, tmp_path: Path) -> None:
    from rules.rule_file import load_ruleset

    rules_file = tmp_path / "rules.toml"
    rules_file.write_text("[[rules]]\nname = 'lift'\nall = { words = { min = 1 } }\nthen = { boost = 100 }\n")
    lifted = triager.with_rules(load_ruleset(rules_file))
    texts = ["@lumo where is my parcel? still waiting, terrible service", "nice weather today"]
    plain = [triager.triage(make_post(t), TriageContext(brand=BRAND)) for t in texts]
    got = [lifted.triage(make_post(t), TriageContext(brand=BRAND)) for t in texts]
    # the boost lifts (the first post's rules had given all the evidence they may already),
    # stays below the urgent band, and the model's order holds: no tie at a cap
    assert got[1].score > plain[1].score and got[0].score >= plain[0].score, [t.score for t in got]
    assert all(t.score < 80 for t in got), [t.score for t in got]
    assert got[0].model_probability > got[1].model_probability and got[0].score > got[1].score
