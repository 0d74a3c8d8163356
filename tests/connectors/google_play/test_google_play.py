"""Google Play beyond the kit: edits, answers, the 7-day window, keys and budgets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.base import AuthFailed, FetchResult, ReplyRejected
from connectors.google_play import GooglePlayConnector
from connectors.google_play.mapping import ItemError, parse_review, to_post
from connectors.reviews import Known
from tests.conftest import T0, Clock
from tests.connectors.google_play.support import play, source
from tests.fakes.google_play_api import FakePlay, timestamp
from watcher.core.config import ConfigError, SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind, Review


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakePlay]:
    fake = FakePlay(clock=clock).start()
    yield fake
    fake.stop()


def again(connector: GooglePlayConnector, result: FetchResult) -> FetchResult:
    return connector.fetch(Cursor.from_json(result.cursor.to_json()) if result.cursor else None)


def test_a_review_is_a_post_with_stars_version_and_language(fake: FakePlay, clock: Clock, tmp_path: Path) -> None:
    fake.add_review("Die App stürzt ständig ab", 1, T0 - timedelta(hours=1), language="de_DE", version="4.1.9",
                    author="Jonas K.", review_id="gp:1")  # fmt: skip
    [post] = play(fake, tmp_path).fetch(None).posts
    assert (post.key, post.kind, post.lang, post.conversation_id) == ("google_play:gp:1", PostKind.REVIEW, "de", "gp:1")
    assert post.review == Review(1, app_version="4.1.9", territory="de_DE")
    assert post.author.handle == "Jonas K." and "reviewId=gp%3A1" in post.url


def test_an_idle_poll_is_one_request(fake: FakePlay, tmp_path: Path) -> None:
    fake.add_review("ok", 4, T0 - timedelta(hours=1))
    connector = play(fake, tmp_path)
    first = connector.fetch(None)
    idle = again(connector, first)
    assert idle.posts == () and idle.requests_made == 1


def test_an_edited_review_comes_back_with_its_earlier_rating(fake: FakePlay, clock: Clock, tmp_path: Path) -> None:
    review_id = fake.add_review("Great app", 5, T0 - timedelta(hours=1))
    connector = play(fake, tmp_path)
    first = connector.fetch(None)
    clock.advance(hours=2)
    fake.edit_review(review_id, "Since 4.2 I cannot log in", 2, clock.now - timedelta(minutes=5))
    [edited] = again(connector, first).posts
    assert edited.native_id == f"{review_id}@{int((clock.now - timedelta(minutes=5)).timestamp())}"
    assert edited.conversation_id == review_id and edited.review is not None
    assert (edited.review.rating, edited.review.previous_rating, edited.review.rating_drop) == (2, 5, 3)


def test_the_brands_answer_is_on_the_review_and_a_reply_replaces_it(
    fake: FakePlay, clock: Clock, tmp_path: Path
) -> None:
    review_id = fake.add_review("Slow transfers", 2, T0 - timedelta(hours=1))
    fake.answer(review_id, "Sorry! Fixed in 4.2.1", T0 - timedelta(minutes=30))
    connector = play(fake, tmp_path)
    [post] = connector.fetch(None).posts
    assert post.review is not None and post.review.answer == "Sorry! Fixed in 4.2.1"
    assert connector.find_own_reply(post) is not None  # answered natively in Play Console
    connector.reply(post, "Update: 4.2.2 is out with faster transfers")
    assert fake.reviews[review_id]["comments"][1]["developerComment"]["text"].startswith("Update:")
    assert connector.find_own_reply(post, "Update: 4.2.2 is out with faster transfers") is not None


def test_an_answer_to_an_earlier_version_does_not_answer_the_edit(fake: FakePlay, clock: Clock, tmp_path: Path) -> None:
    review_id = fake.add_review("ok", 3, T0 - timedelta(hours=3))
    fake.answer(review_id, "Thanks!", T0 - timedelta(hours=2))
    connector = play(fake, tmp_path)
    first = connector.fetch(None)
    fake.edit_review(review_id, "now broken", 1, T0 - timedelta(minutes=10))
    [edited] = again(connector, first).posts
    assert edited.review is not None and edited.review.answer == "Thanks!"  # shown: a reply replaces it
    assert connector.find_own_reply(edited) is None


def test_a_reply_too_long_is_refused_before_anything_is_sent(fake: FakePlay, tmp_path: Path) -> None:
    fake.add_review("bad", 1, T0 - timedelta(hours=1))
    connector = play(fake, tmp_path)
    [post] = connector.fetch(None).posts
    sent = len(fake.requests)
    with pytest.raises(ReplyRejected, match="351 characters; Google Play allows 350"):
        connector.reply(post, "x" * 351)
    assert len(fake.requests) == sent


def test_a_gap_longer_than_the_week_play_keeps_is_a_problem_line(fake: FakePlay, clock: Clock, tmp_path: Path) -> None:
    fake.add_review("ok", 4, T0 - timedelta(hours=1))
    connector = play(fake, tmp_path)
    first = connector.fetch(None)
    clock.advance(days=6)
    assert again(connector, first).problems == ()
    clock.advance(days=3)  # nine days after the first poll
    [line] = again(connector, first).problems
    assert "9.0 days ago" in line and "only the last 7 days" in line and "Play Console" in line


def test_a_revoked_key_says_what_to_do(fake: FakePlay, tmp_path: Path) -> None:
    fake.revoked = True
    with pytest.raises(AuthFailed, match="make a new JSON key .* GOOGLE_PLAY_KEY_FILE"):
        play(fake, tmp_path).fetch(None)


def test_a_missing_or_wrong_key_file_is_a_config_problem(fake: FakePlay, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GOOGLE_PLAY_KEY_FILE is not set"):
        GooglePlayConnector.from_config(source(fake), {})
    (tmp_path / "k.json").write_text('{"type": "authorized_user"}')
    with pytest.raises(ConfigError, match="is not a service account key"):
        GooglePlayConnector.from_config(source(fake), {"GOOGLE_PLAY_KEY_FILE": str(tmp_path / "k.json")})


def test_check_refuses_an_interval_that_could_miss_a_week_and_counts_reads() -> None:
    def cfg(name: str, interval: int) -> SourceConfig:
        return SourceConfig(name=name, kind="google_play", interval_seconds=interval, jitter_seconds=30,
                            options={"package_name": "com.lumo.bank"})  # fmt: skip

    assert GooglePlayConnector.budget_problems([cfg("play", 3600)]) == []
    [weekly] = GooglePlayConnector.budget_problems([cfg("play", 7 * 86400)])
    assert weekly.key == "sources.play.interval_seconds" and "only the last 7 days" in weekly.reason
    [row] = GooglePlayConnector.plan_budget([cfg("a", 10), cfg("b", 3600)])
    assert not row.ok and "361 review reads an hour of 200" in row.text
    [busy] = GooglePlayConnector.budget_problems([cfg("a", 10), cfg("b", 3600)])
    assert busy.key == "sources.a.interval_seconds, sources.b.interval_seconds"


COMMENT = {"text": "Top", "starRating": 5, "lastModified": timestamp(T0), "appVersionName": "4.2.0",
           "reviewerLanguage": "pt_BR"}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"comments": [{"userComment": COMMENT}]}, "no reviewId"),
        ({"reviewId": "r", "comments": []}, "no userComment"),
        ({"reviewId": "r", "comments": [{"userComment": {**COMMENT, "starRating": 0}}]}, "not 1-5"),
        ({"reviewId": "r", "comments": [{"userComment": {**COMMENT, "lastModified": "2026"}}]}, "seconds"),
        ("text", "not an object"),
    ],
)
def test_mapping_refuses_what_it_cannot_read(raw: object, problem: str) -> None:
    with pytest.raises(ItemError, match=problem):
        parse_review(raw)


@pytest.mark.parametrize(
    ("known", "native_id", "previous"),
    [
        (None, "r", None),
        (Known(4, T0), "r", None),  # the same version again (a re-fetch): same id
        (Known(4, T0 - timedelta(days=1)), f"r@{int(T0.timestamp())}", 4),
    ],
)
def test_mapping_names_each_version(known: Known | None, native_id: str, previous: int | None) -> None:
    review = parse_review({"reviewId": "r", "authorName": "", "comments": [{"userComment": COMMENT}]})
    post = to_post(review, package="com.lumo.bank", source="play", known=known)
    assert post.native_id == native_id and post.review is not None and post.review.previous_rating == previous
    assert post.author.handle == "A Google user" and post.lang == "pt"
