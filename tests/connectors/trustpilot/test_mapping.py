"""Trustpilot review payloads -> Posts, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.reviews import Known
from connectors.trustpilot.mapping import ItemError, parse_review, to_post
from watcher.core.post import Review

RAW: dict[str, Any] = {
    "id": "64b0c0ffee0001", "stars": 2, "title": "Lenta", "text": "La transferencia tardó tres días",
    "language": "es", "createdAt": "2026-11-20T09:00:00", "updatedAt": None, "referralEmail": "ana@example.com",
    "consumer": {"id": "c1", "displayName": "Ana", "countryCode": "ES"},
    "companyReply": {"text": "¡Lo sentimos!", "createdAt": "2026-11-20T10:00:00Z", "updatedAt": None},
}  # fmt: skip
T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_a_review_reads_times_without_a_zone_as_utc_and_keeps_no_email() -> None:
    review = parse_review(RAW)
    assert (review.created, review.changed, review.answered) == (T, T, datetime(2026, 11, 20, 10, tzinfo=UTC))
    post = to_post(review, source="tp", known=None)
    assert post.native_id == "64b0c0ffee0001" and post.text == "Lenta\nLa transferencia tardó tres días"
    assert post.review == Review(2, title="Lenta", territory="ES", answer="¡Lo sentimos!")
    assert (post.author.id, post.author.handle, post.lang) == ("c1", "Ana", "es")
    assert "referralEmail" not in post.raw and "referralEmail" in RAW


def test_an_edit_is_a_new_version_with_the_earlier_rating() -> None:
    edited = parse_review({**RAW, "stars": 1, "updatedAt": "2026-11-21T09:00:00Z"})
    post = to_post(edited, source="tp", known=Known(4, T))
    assert post.native_id == f"64b0c0ffee0001@{int(datetime(2026, 11, 21, 9, tzinfo=UTC).timestamp())}"
    assert post.review is not None and (post.review.rating, post.review.previous_rating) == (1, 4)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"consumer": None}, ("A Trustpilot user", "")),  # no consumer object: a placeholder, no country
        ({"title": "", "text": "  solo texto "}, ("Ana", "ES")),
        ({"companyReply": {"text": "hola", "createdAt": "soon"}}, ("Ana", "ES")),  # unreadable reply time
    ],
)
def test_missing_parts_have_defaults(changes: dict[str, Any], expected: tuple[str, str]) -> None:
    post = to_post(parse_review({**RAW, **changes}), source="tp", known=None)
    assert post.review is not None and (post.author.handle, post.review.territory) == expected


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": ""}, "without an id"),
        ({"stars": 0}, "not 1-5"),
        ({"stars": True}, "not 1-5"),
        ({"createdAt": None}, "unreadable time"),
        ({"updatedAt": "yesterday"}, "unreadable time 'yesterday'"),
    ],
)
def test_mapping_refuses_what_it_cannot_read(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ItemError, match=problem):
        parse_review({**RAW, **changes})
