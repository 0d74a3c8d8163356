"""The digest's review figures: average and distribution per platform and app version
with the change from the previous period, and the share of 1-2 star reviews answered."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import T0, make_post
from watcher.core.post import PostKind, Review
from watcher.digest.figures import collect_digest
from watcher.digest.html import render_html
from watcher.digest.ratings import build_ratings
from watcher.digest.text import digest_text
from watcher.digest.windows import custom_window
from watcher.store import Store
from watcher.store.reports import ReviewRow


def review(store: Store, stars: int, *, days: float, platform: str = "google_play", version: str = "4.2.0",
           answer: str = "") -> None:  # fmt: skip
    post = make_post("review", kind=PostKind.REVIEW, platform=platform, created_at=T0 + timedelta(days=days),
                     review=Review(stars, app_version=version, answer=answer))  # fmt: skip
    store.posts.insert_post(post, None, fetched_at=T0 + timedelta(days=days))


def test_figures_per_platform_and_version_against_the_previous_period(store: Store) -> None:
    for stars in (5, 4):  # the previous week: 4.5 on Play
        review(store, stars, days=-3, version="4.1.0")
    review(store, 1, days=2, answer="Sorry, fixed in 4.2.1")
    review(store, 2, days=2)
    review(store, 5, days=3, version="4.2.1")
    review(store, 3, days=3, platform="app_store", version="")
    store.posts.insert_post(make_post("not a review", created_at=T0 + timedelta(days=1)), None, fetched_at=T0)
    window = custom_window(T0, T0 + timedelta(days=7), "UTC")
    digest = collect_digest(store, window, sla_targets={}, now=T0 + timedelta(days=7))
    ratings = digest.ratings
    assert ratings is not None
    play, apple = ratings.by_platform
    assert (play.name, play.count, play.distribution, round(play.average or 0, 2)) == (
        "google_play",
        3,
        (1, 1, 0, 0, 1),
        2.67,
    )
    assert play.change is not None and round(play.change, 2) == -1.83 and apple.change is None
    assert [(g.name, g.count) for g in ratings.by_version] == [("google_play 4.2.0", 2), ("google_play 4.2.1", 1)]
    assert (ratings.low_star, ratings.low_star_answered, ratings.response_rate) == (2, 1, 0.5)
    text = digest_text(digest)
    assert "*Ratings* google_play 2.67★ over 3 (-1.83), 1/1/0/0/1 by 1-5 stars; app_store 3.00★ over 1 (new)" in text
    assert "1-2 star reviews answered: 1 of 2 (50%)" in text
    html = render_html(digest, {})
    assert "<h2>Ratings</h2>" in html and "google_play 4.2.1" in html


def test_no_reviews_no_ratings_lines() -> None:
    ratings = build_ratings([], [ReviewRow("google_play", "", 4, False)])
    assert ratings.reviews == 0 and ratings.response_rate is None
