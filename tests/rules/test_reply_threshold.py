"""The needs-reply decision, calibrated on dev data (issue 20): a complaint to the brand
needs a reply, and a neutral post just above the old threshold of 40 does not."""

from __future__ import annotations

import pytest

from rules.triage import TriageContext, Triager
from tests.rules.conftest import BRAND, make_post
from watcher.core.settings import TriageConfig


def test_the_default_threshold_is_the_calibrated_one() -> None:
    assert TriageConfig().reply_threshold == 45


@pytest.mark.parametrize("text", ["sigo esperando @lumo", "ainda esperando @lumo", "still waiting @lumo"])
def test_a_complaint_to_the_brand_needs_a_reply(triager: Triager, text: str) -> None:
    result = triager.triage(make_post(text), TriageContext(brand=BRAND))
    assert "complaint" in result.intents and result.needs_reply, result


def test_a_neutral_post_just_above_40_needs_no_reply(triager: Triager) -> None:
    text = "Quell'offerta sulle scarpe mi ha ucciso, il portafoglio piange ma sono felice"  # an idiom, happy
    result = triager.triage(make_post(text), TriageContext(brand=BRAND))
    assert 40 <= result.score < 45 and not result.needs_reply, result
