"""A review's stars, title, version and the brand's answer are stored with the post and
read back; a replayed record carries them too."""

from __future__ import annotations

import pytest

from connectors.replay import RecordError, record_to_post
from tests.conftest import T0, make_post
from watcher.core.post import PostKind, Review
from watcher.store import Store


def test_a_review_is_stored_and_read_back(store: Store) -> None:
    review = Review(2, title="Logs me out", app_version="4.2.0", territory="ITA", previous_rating=4,
                    answer="Sorry! Update to 4.2.1", answer_pending=True)  # fmt: skip
    post = make_post("keeps logging me out", kind=PostKind.REVIEW, platform="app_store", review=review)
    plain = make_post("not a review")
    store.posts.insert_post(post, None, fetched_at=T0)
    store.posts.insert_post(plain, None, fetched_at=T0)
    got = store.posts.get_post(post.key)
    assert got is not None and got.review == review and got.review.rating_drop == 2
    assert store.posts.get_post(plain.key).review is None  # type: ignore[union-attr]


def test_stars_outside_one_to_five_are_refused() -> None:
    with pytest.raises(ValueError, match="1 to 5 stars"):
        Review(6)
    with pytest.raises(ValueError, match="previous_rating"):
        Review(3, previous_rating=0 - 1)


def test_a_record_with_a_review() -> None:
    record = {"id": "r1", "text": "Tolle App", "created_at": "2026-11-20T09:00:00Z", "kind": "review",
              "platform": "google_play", "review": {"rating": 5, "app_version": "4.2.0", "territory": "de"}}  # fmt: skip
    post = record_to_post(record)
    assert post.review == Review(5, app_version="4.2.0", territory="de")
    with pytest.raises(RecordError, match="review"):
        record_to_post({**record, "review": {"rating": 9}})
