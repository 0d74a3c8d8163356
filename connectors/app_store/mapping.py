"""App Store Connect customer review payloads -> Posts. Pure: no I/O, tested table-driven."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.core.post import MAX_STARS, MIN_STARS, Author, Post, PostKind, Review, parse_timestamp

PLATFORM = "app_store"
PENDING = "PENDING_PUBLISH"  # Apple reviews a response before it is live


class ItemError(ValueError):
    """A review that cannot be read (missing id, rating or date)."""


@dataclass(frozen=True)
class Answer:
    """The brand's response to a review (customerReviewResponses)."""

    id: str
    text: str
    modified: datetime | None
    pending: bool


@dataclass(frozen=True)
class StoreReview:
    review_id: str
    rating: int
    created: datetime
    title: str
    body: str
    nickname: str
    territory: str
    answer: Answer | None
    raw: Mapping[str, Any]


def parse_answer(raw: Any) -> Answer | None:
    """A customerReviewResponses resource, or None when it is not one."""
    if not isinstance(raw, Mapping) or raw.get("type") != "customerReviewResponses":
        return None
    attributes = raw.get("attributes") or {}
    modified = attributes.get("lastModifiedDate")
    try:
        when = parse_timestamp(str(modified)) if modified else None
    except ValueError:
        when = None
    return Answer(
        id=str(raw.get("id") or ""),
        text=str(attributes.get("responseBody") or ""),
        modified=when,
        pending=attributes.get("state") == PENDING,
    )


def parse_review(raw: Any, responses: Mapping[str, Answer]) -> StoreReview:
    """One `data` item of customerReviews; `responses` are the `included` ones by id."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ItemError("a review without an id")
    review_id = raw["id"]
    attributes = raw.get("attributes")
    if not isinstance(attributes, Mapping):
        raise ItemError(f"review {review_id} has no attributes")
    stars = attributes.get("rating")
    if not isinstance(stars, int) or isinstance(stars, bool) or not MIN_STARS <= stars <= MAX_STARS:
        raise ItemError(f"review {review_id}: rating {stars!r} is not 1-5")
    try:
        created = parse_timestamp(str(attributes["createdDate"]))
    except (KeyError, ValueError):
        raise ItemError(f"review {review_id}: unreadable createdDate {attributes.get('createdDate')!r}") from None
    link = ((raw.get("relationships") or {}).get("response") or {}).get("data")
    answer = responses.get(str(link.get("id"))) if isinstance(link, Mapping) else None
    return StoreReview(
        review_id=review_id,
        rating=stars,
        created=created,
        title=str(attributes.get("title") or "").strip(),
        body=str(attributes.get("body") or "").strip(),
        nickname=str(attributes.get("reviewerNickname") or ""),
        territory=str(attributes.get("territory") or ""),
        answer=answer,
        raw=raw,
    )


def to_post(review: StoreReview, *, app_id: str, source: str) -> Post:
    """A review -> Post: the title leads the text (customers often say it all there)."""
    text = f"{review.title}\n{review.body}".strip() if review.title else review.body
    name = review.nickname or "An App Store user"
    answer = review.answer
    return Post(
        platform=PLATFORM,
        native_id=review.review_id,
        kind=PostKind.REVIEW,
        text=text,
        created_at=review.created,
        author=Author(id=name, handle=name, display_name=name),
        url=f"https://appstoreconnect.apple.com/apps/{app_id}/distribution/activity/ios/ratingsResponses",
        conversation_id=review.review_id,
        source=source,
        raw=review.raw,
        review=Review(
            rating=review.rating,
            title=review.title,
            territory=review.territory,
            answer=answer.text if answer else "",
            answer_pending=bool(answer and answer.pending),
        ),
    )
