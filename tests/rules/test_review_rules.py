"""Reviews: the stars are a fact the rules read; 1-2 stars and a lowered rating need a
reply, 5 stars go to the digest, a team's rule file can switch that off."""

from __future__ import annotations

import pytest

from rules.facts import post_facts
from rules.triage import TriageContext, Triager
from tests.rules.conftest import make_post
from watcher.core.post import Post, PostKind, Review


def review(text: str, stars: int, previous: int | None = None) -> Post:
    return make_post(text, kind=PostKind.REVIEW, platform="google_play", review=Review(stars, previous_rating=previous))


def test_the_stars_and_the_drop_are_rule_facts(triager: Triager, ctx: TriageContext) -> None:
    post = review("meh", 2, previous=4)
    facts = post_facts(post, triager.signals(post.text), ctx)
    assert (facts.rating, facts.rating_drop) == (2, 2)


@pytest.mark.parametrize("batch", [False, True])
def test_one_and_two_stars_need_a_reply_and_five_go_to_the_digest(
    triager: Triager, ctx: TriageContext, batch: bool
) -> None:
    posts = [
        review("The app keeps logging me out.", 1),
        review("Not great since the last update", 2),
        review("Great app, love it", 5),
        review("ok I guess", 3),
        make_post("Great app, love it"),  # not a review: rating 0, no review rule
    ]
    results = triager.triage_many(posts, [ctx] * len(posts)) if batch else [triager.triage(p, ctx) for p in posts]
    low, two, five, three, post = results
    assert low.needs_reply and two.needs_reply and "low star review" in low.rules_fired
    assert five.digest_only and not five.needs_reply
    assert "low star review" not in three.rules_fired and not three.digest_only
    assert not post.digest_only


def test_a_lowered_rating_is_a_signal(triager: Triager, ctx: TriageContext) -> None:
    lowered = triager.triage(review("changed my mind", 3, previous=5), ctx)
    same = triager.triage(review("changed my mind", 3), ctx)
    assert lowered.needs_reply and "rating dropped" in lowered.rules_fired
    assert lowered.score > same.score
