"""Trustpilot beyond the kit: edits, replaced replies, tokens, paging, limits, budgets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from connectors.base import AuthFailed, FetchResult, RateLimited, ReplyRejected, SourceMisconfigured
from connectors.trustpilot import TrustpilotConnector
from tests.conftest import T0, Clock
from tests.connectors.trustpilot.support import source, trustpilot
from tests.fakes.trustpilot_api import REVIEWS, TOKEN_PATH, FakeTrustpilot
from watcher.core.config import ConfigError, SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import PostKind, Review


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeTrustpilot]:
    fake = FakeTrustpilot(clock=clock).start()
    yield fake
    fake.stop()


def again(connector: TrustpilotConnector, result: FetchResult) -> FetchResult:
    return connector.fetch(Cursor.from_json(result.cursor.to_json()) if result.cursor else None)


def test_a_review_is_a_post_with_stars_title_language_and_the_customer(fake: FakeTrustpilot) -> None:
    review_id = fake.add_review("Karte gesperrt", "Seit gestern geht nichts mehr", 1, T0 - timedelta(hours=1),
                                name="Jonas K.", language="de", country="DE")  # fmt: skip
    [post] = trustpilot(fake).fetch(None).posts
    assert (post.native_id, post.kind, post.lang, post.conversation_id) == (review_id, PostKind.REVIEW, "de", review_id)
    assert post.text == "Karte gesperrt\nSeit gestern geht nichts mehr"
    assert post.review == Review(1, title="Karte gesperrt", territory="DE")
    assert post.author.handle == "Jonas K." and post.author.id.startswith("c0ffee")  # a real consumer id
    assert post.url == f"https://www.trustpilot.com/reviews/{review_id}"
    assert "referralEmail" not in post.raw  # the customer's e-mail is not stored


def test_an_idle_poll_is_one_request_and_the_token_is_reused(fake: FakeTrustpilot) -> None:
    fake.add_review("ok", "fine", 4, T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    assert first.requests_made == 2  # the token, then the listing
    idle = again(connector, first)
    assert idle.posts == () and idle.requests_made == 1
    assert fake.requests[-1] == f"GET {REVIEWS}"


def test_more_than_a_page_of_new_reviews_is_read_to_the_watermark(fake: FakeTrustpilot, clock: Clock) -> None:
    fake.add_review("old", "read before", 3, T0 - timedelta(hours=5))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    new = [fake.add_review("new", f"review {n}", 2, T0 - timedelta(hours=4) + timedelta(minutes=n)) for n in range(150)]
    result = again(connector, first)
    assert [p.native_id for p in result.posts] == new  # oldest first
    assert result.requests_made == 2 and not result.problems


def test_a_first_poll_reads_back_backfill_hours_only(fake: FakeTrustpilot) -> None:
    fake.add_review("ancient", "last month", 5, T0 - timedelta(days=30))
    recent = fake.add_review("recent", "an hour ago", 5, T0 - timedelta(hours=1))
    assert [p.native_id for p in trustpilot(fake).fetch(None).posts] == [recent]


def test_an_edited_review_comes_back_with_its_earlier_rating(fake: FakeTrustpilot, clock: Clock) -> None:
    review_id = fake.add_review("Great bank", "love the app", 5, T0 - timedelta(hours=1))
    fake.add_review("Newer", "a later review, listed above it", 4, T0 - timedelta(minutes=30))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    clock.advance(hours=2)
    edited_at = clock.now - timedelta(minutes=5)
    fake.edit_review(review_id, "Since the update I cannot log in", 2, edited_at)
    [edited] = again(connector, first).posts
    assert edited.native_id == f"{review_id}@{int(edited_at.timestamp())}"
    assert edited.conversation_id == review_id and edited.created_at == edited_at
    assert edited.review is not None
    assert (edited.review.rating, edited.review.previous_rating, edited.review.rating_drop) == (2, 5, 3)
    assert edited.text == "Great bank\nSince the update I cannot log in"


def test_a_reply_replaces_the_earlier_answer(fake: FakeTrustpilot, clock: Clock) -> None:
    review_id = fake.add_review("Slow transfers", "three days", 2, T0 - timedelta(hours=1))
    fake.answer(review_id, "Sorry! We are looking into it", T0 - timedelta(minutes=30))
    connector = trustpilot(fake)
    [post] = connector.fetch(None).posts
    assert post.review is not None and post.review.answer == "Sorry! We are looking into it"
    assert connector.find_own_reply(post) is not None  # answered natively in Trustpilot Business
    clock.advance(minutes=10)
    posted = connector.reply(post, "Update: transfers are instant again")
    assert posted.native_id == f"{review_id}:reply" and posted.posted_at == clock.now
    reply = fake.reviews[review_id]["companyReply"]
    assert reply["text"] == "Update: transfers are instant again"  # one reply per review, replaced
    assert connector.find_own_reply(post, "Update: transfers are instant again") is not None
    assert connector.find_own_reply(post, "Sorry! We are looking into it") is None


def test_a_reply_to_an_earlier_version_does_not_answer_the_edit(fake: FakeTrustpilot, clock: Clock) -> None:
    review_id = fake.add_review("ok", "fine", 4, T0 - timedelta(hours=2))
    fake.answer(review_id, "Thanks!", T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    fake.edit_review(review_id, "now it is broken", 1, T0 - timedelta(minutes=10))
    [edited] = again(connector, first).posts
    assert connector.find_own_reply(edited) is None


def test_an_expired_token_is_replaced_once_and_the_request_repeated(fake: FakeTrustpilot) -> None:
    fake.add_review("ok", "fine", 4, T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    fake.expire_tokens()  # expired before its 100 hours (revoked, or a clock off)
    idle = again(connector, first)
    assert idle.requests_made == 3  # refused, a new token, the listing again
    assert fake.requests[-3:] == [f"GET {REVIEWS}", f"POST {TOKEN_PATH}", f"GET {REVIEWS}"]


def test_a_refused_key_is_auth_failed_without_a_loop(fake: FakeTrustpilot) -> None:
    fake.add_review("ok", "fine", 4, T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    fake.expire_tokens()
    fake.key_valid = False  # the key was revoked in Trustpilot Business
    asked = len(fake.requests)
    with pytest.raises(AuthFailed, match="TRUSTPILOT_API_KEY and TRUSTPILOT_API_SECRET"):
        again(connector, first)
    assert len(fake.requests) - asked == 2  # the refused listing and one token request


def test_a_token_near_its_end_is_replaced_before_use(fake: FakeTrustpilot, clock: Clock) -> None:
    fake.add_review("ok", "fine", 4, T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    first = connector.fetch(None)
    clock.advance(hours=100)  # the token lives 359,999 seconds
    assert again(connector, first).requests_made == 2  # a new token, then the listing: no 401
    assert fake.requests[-2:] == [f"POST {TOKEN_PATH}", f"GET {REVIEWS}"]


def test_a_429_without_retry_after_waits_five_minutes(fake: FakeTrustpilot, clock: Clock) -> None:
    fake.fail_next(REVIEWS, 429)
    with pytest.raises(RateLimited) as caught:
        trustpilot(fake).fetch(None)
    assert caught.value.until == clock.now + timedelta(minutes=5)
    assert "833 calls per 5 minutes" in caught.value.message


def test_a_wrong_business_unit_is_misconfigured(fake: FakeTrustpilot) -> None:
    with pytest.raises(SourceMisconfigured, match="business_unit_id"):
        trustpilot(fake, business_unit_id="000000000000000000000000").fetch(None)


def test_a_reply_to_a_deleted_review_is_rejected(fake: FakeTrustpilot) -> None:
    review_id = fake.add_review("bad", "bad", 1, T0 - timedelta(hours=1))
    connector = trustpilot(fake)
    [post] = connector.fetch(None).posts
    del fake.reviews[review_id]
    with pytest.raises(ReplyRejected, match="the review is gone"):
        connector.reply(post, "Sorry to hear that")
    assert connector.find_own_reply(post) is None


def test_missing_secrets_and_bad_keys_are_config_problems(fake: FakeTrustpilot) -> None:
    with pytest.raises(ConfigError) as caught:
        TrustpilotConnector.from_config(source(fake, business_unit_id="lumo bank", api_url="http://example.com"), {})
    text = str(caught.value)
    assert "TRUSTPILOT_API_KEY" in text and "TRUSTPILOT_API_SECRET" in text
    assert "business_unit_id" in text and "api_url" in text


def budget_source(name: str, interval: int, **options: object) -> SourceConfig:
    return SourceConfig(name=name, kind="trustpilot", interval_seconds=interval,
                        options={"business_unit_id": "b1", "business_user_id": "u1", **options})  # fmt: skip


def test_the_budget_counts_calls_against_the_hour_and_the_years_allowance() -> None:
    [row] = TrustpilotConnector.plan_budget([budget_source("tp", 900)])
    assert row.ok and "about 4 calls an hour of 10,000" in row.text and "35,040 a year of 200,000" in row.text
    assert TrustpilotConnector.budget_problems([budget_source("tp", 900)]) == []
    [problem] = TrustpilotConnector.budget_problems([budget_source("tp", 60)])
    assert problem.key == "sources.tp.interval_seconds" and "525,600 a year" in problem.reason
    assert TrustpilotConnector.budget_problems([budget_source("tp", 60, api_calls_per_year=0)]) == []
