"""The App Store beyond the kit: answers pending publication, replaced answers,
territories, an expired or revoked key, token lifetime and mapping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.app_store import AppStoreConnector
from connectors.app_store.mapping import ItemError, parse_answer, parse_review, to_post
from connectors.base import AuthFailed, ReplyRejected
from tests.conftest import T0, Clock
from tests.connectors.app_store.support import app_store, environment, source, start_fake
from tests.fakes.app_store_api import FakeAppStore
from watcher.core.config import ConfigError
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind, Review


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeAppStore]:
    fake = start_fake(clock)
    yield fake
    fake.stop()


def test_a_review_is_a_post_with_stars_title_and_territory(fake: FakeAppStore, tmp_path: Path) -> None:
    review_id = fake.add_review("Impossibile accedere", "Dopo l'aggiornamento non entro più", 1,
                                T0 - timedelta(hours=1), territory="ITA", nickname="marco_b")  # fmt: skip
    [post] = app_store(fake, tmp_path).fetch(None).posts
    assert (post.native_id, post.kind, post.author.handle) == (review_id, PostKind.REVIEW, "marco_b")
    assert post.text == "Impossibile accedere\nDopo l'aggiornamento non entro più"
    assert post.review == Review(1, title="Impossibile accedere", territory="ITA")


def test_an_idle_poll_is_one_request_and_territories_filter(fake: FakeAppStore, tmp_path: Path) -> None:
    fake.add_review("Great", "love it", 5, T0 - timedelta(hours=1), territory="USA")
    italian = fake.add_review("Bella", "mi piace", 4, T0 - timedelta(minutes=30), territory="ITA")
    connector = app_store(fake, tmp_path, territories=["ita"])
    first = connector.fetch(None)
    assert [p.native_id for p in first.posts] == [italian]
    assert first.cursor is not None
    idle = connector.fetch(Cursor.from_json(first.cursor.to_json()))
    assert idle.posts == () and idle.requests_made == 1


def test_an_answer_is_pending_publication_until_apple_publishes_it(
    fake: FakeAppStore, clock: Clock, tmp_path: Path
) -> None:
    review_id = fake.add_review("Crashes", "on launch", 1, T0 - timedelta(hours=1))
    connector = app_store(fake, tmp_path)
    [post] = connector.fetch(None).posts
    assert post.review is not None and post.review.answer == ""
    posted = connector.reply(post, "Sorry! 4.2.1 fixes the crash")
    assert posted.native_id.startswith("resp-")
    clock.advance(hours=1)
    [again] = connector.fetch(None).posts  # a new read of the same review (no cursor)
    assert again.review is not None and again.review.answer_pending
    fake.publish(review_id)
    [live] = app_store(fake, tmp_path).fetch(None).posts
    assert live.review is not None and not live.review.answer_pending


def test_a_reply_replaces_the_earlier_answer(fake: FakeAppStore, tmp_path: Path) -> None:
    review_id = fake.add_review("Crashes", "on launch", 1, T0 - timedelta(hours=1))
    connector = app_store(fake, tmp_path)
    [post] = connector.fetch(None).posts
    connector.reply(post, "Sorry!")
    connector.reply(post, "Sorry! Fixed in 4.2.1")
    assert fake.responses[review_id]["attributes"]["responseBody"] == "Sorry! Fixed in 4.2.1"
    found = connector.find_own_reply(post)
    assert found is not None and connector.find_own_reply(post, "Sorry!") is None


def test_a_revoked_key_says_what_to_do(fake: FakeAppStore, tmp_path: Path) -> None:
    fake.revoked = True
    with pytest.raises(AuthFailed, match="make a new API key"):
        app_store(fake, tmp_path).fetch(None)


def test_a_token_is_signed_again_before_it_expires(fake: FakeAppStore, clock: Clock, tmp_path: Path) -> None:
    fake.add_review("ok", "ok", 3, T0 - timedelta(hours=1))
    connector = app_store(fake, tmp_path)
    connector.fetch(None)
    clock.advance(minutes=25)  # the first token has expired by the fake's clock
    connector.fetch(None)  # an old token would be refused: AuthFailed


def test_a_reply_too_long_is_refused_before_anything_is_sent(fake: FakeAppStore, tmp_path: Path) -> None:
    fake.add_review("bad", "bad", 1, T0 - timedelta(hours=1))
    connector = app_store(fake, tmp_path)
    [post] = connector.fetch(None).posts
    sent = len(fake.requests)
    with pytest.raises(ReplyRejected, match="1 to 5970"):
        connector.reply(post, "x" * 5971)
    assert len(fake.requests) == sent


def test_missing_key_variables_are_config_problems(fake: FakeAppStore, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        AppStoreConnector.from_config(source(fake, territories=["IT"]), {})
    text = str(caught.value)
    assert "APP_STORE_KEY_FILE is not set" in text and "APP_STORE_KEY_ID" in text and "three-letter" in text
    env = environment(tmp_path) | {"APP_STORE_KEY_FILE": str(tmp_path / "none.p8")}
    with pytest.raises(ConfigError, match="cannot read"):
        AppStoreConnector.from_config(source(fake), env)


RAW = {"type": "customerReviews", "id": "r1", "attributes": {"rating": 4, "title": "", "body": "Sehr gut",
       "reviewerNickname": "", "createdDate": "2026-11-20T02:00:00-07:00", "territory": "DEU"},
       "relationships": {"response": {"data": {"type": "customerReviewResponses", "id": "p1"}}}}  # fmt: skip
ANSWER = {"type": "customerReviewResponses", "id": "p1",
          "attributes": {"responseBody": "Danke!", "lastModifiedDate": "2026-11-20T10:00:00Z", "state": "PUBLISHED"}}  # fmt: skip


def test_mapping_reads_apples_times_and_the_included_answer() -> None:
    answer = parse_answer(ANSWER)
    assert answer is not None
    post = to_post(parse_review(RAW, {"p1": answer}), app_id="1", source="s")
    assert post.created_at == T0 and post.text == "Sehr gut" and post.author.handle == "An App Store user"
    assert post.review == Review(4, territory="DEU", answer="Danke!")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({**RAW, "id": ""}, "without an id"),
        ({**RAW, "attributes": None}, "no attributes"),
        ({**RAW, "attributes": {**RAW["attributes"], "rating": 6}}, "not 1-5"),  # type: ignore[dict-item]
        ({**RAW, "attributes": {**RAW["attributes"], "createdDate": "soon"}}, "createdDate"),  # type: ignore[dict-item]
    ],
)
def test_mapping_refuses_what_it_cannot_read(raw: dict, problem: str) -> None:
    with pytest.raises(ItemError, match=problem):
        parse_review(raw, {})
