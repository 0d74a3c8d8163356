"""A review's card shows its stars, the earlier rating, the version and store, and says
a reply is an edit when the brand has answered (pending publication on the App Store)."""

from __future__ import annotations

import json
from dataclasses import replace

from tests.conftest import T0, make_post
from watcher.core.item import QueueItem
from watcher.core.post import PostKind, Review
from watcher.core.vocab import Priority, QueueState
from watcher.slack.cards import CardView, card_blocks, review_context
from watcher.slack.sla import SlaState

ITEM = QueueItem(7, "x:1", QueueState.NEW, Priority.HIGH, 70, "", T0, 1)


def test_the_card_of_a_review_shows_stars_version_and_store() -> None:
    review = Review(2, app_version="4.2.0", territory="ITA", previous_rating=5)
    post = make_post("cannot log in", kind=PostKind.REVIEW, platform="google_play", review=review)
    view = CardView(item=ITEM, post=post, triage=None, sla=SlaState(T0, "running", 10), approval_required=False)
    text = json.dumps(card_blocks(view), ensure_ascii=False)
    assert "★★☆☆☆ 2/5 (was 5/5)" in text and "*Version:* 4.2.0" in text and "*Store:* ITA" in text
    assert "Edit" not in text


def test_an_answered_review_says_a_reply_replaces_the_answer() -> None:
    answered = Review(1, answer="Sorry! Fixed in 4.2.1")
    assert review_context(answered)[-1] == "*Edit:* a reply replaces our answer: “Sorry! Fixed in 4.2.1”"
    pending = replace(answered, answer_pending=True)
    assert "(pending publication)" in review_context(pending)[-1]
    assert review_context(None) == []
