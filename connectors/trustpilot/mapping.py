"""Trustpilot review payloads -> Posts. Pure: no I/O, tested table-driven."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.reviews import Known, version_id
from watcher.core.post import MAX_STARS, MIN_STARS, Author, Post, PostKind, Review

PLATFORM = "trustpilot"
# personal data of the brand's own invitations: never stored with the post
PRIVATE_FIELDS = frozenset({"referralEmail"})


class ItemError(ValueError):
    """A review that cannot be read (missing id, stars or time)."""


@dataclass(frozen=True)
class TrustpilotReview:
    """The fields of one review the connector uses."""

    review_id: str
    rating: int
    created: datetime
    changed: datetime  # the customer's last edit (updatedAt), else createdAt
    title: str
    text: str
    language: str
    consumer_id: str
    consumer_name: str
    country: str
    answer: str  # the brand's current reply, "" when none
    answered: datetime | None
    raw: Mapping[str, Any]


def tp_time(value: Any) -> datetime:
    """Trustpilot's ISO times (`2026-11-20T09:00:00Z`; a time without a zone is UTC)."""
    if not isinstance(value, str) or not value:
        raise ItemError(f"unreadable time {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ItemError(f"unreadable time {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_review(raw: Any) -> TrustpilotReview:
    """One review of the private reviews listing (or `GET /private/reviews/{id}`);
    raises ItemError naming what is missing."""
    if not isinstance(raw, Mapping):
        raise ItemError("a review is not an object")
    review_id = raw.get("id")
    if not isinstance(review_id, str) or not review_id:
        raise ItemError("a review without an id")
    stars = raw.get("stars")
    if not isinstance(stars, int) or isinstance(stars, bool) or not MIN_STARS <= stars <= MAX_STARS:
        raise ItemError(f"review {review_id}: stars {stars!r} is not 1-5")
    try:
        created = tp_time(raw.get("createdAt"))
        changed = tp_time(raw["updatedAt"]) if raw.get("updatedAt") else created
    except ItemError as exc:
        raise ItemError(f"review {review_id}: {exc}") from None
    consumer = _object(raw.get("consumer"))
    reply = _object(raw.get("companyReply"))
    answered = reply.get("updatedAt") or reply.get("createdAt")
    try:
        answered_at = tp_time(answered) if answered else None
    except ItemError:
        answered_at = None
    return TrustpilotReview(
        review_id=review_id,
        rating=stars,
        created=created,
        changed=max(created, changed),
        title=str(raw.get("title") or "").strip(),
        text=str(raw.get("text") or "").strip(),
        language=str(raw.get("language") or ""),
        consumer_id=str(consumer.get("id") or ""),
        consumer_name=str(consumer.get("displayName") or ""),
        country=str(consumer.get("countryCode") or ""),
        answer=str(reply.get("text") or ""),
        answered=answered_at,
        raw={k: v for k, v in raw.items() if k not in PRIVATE_FIELDS},
    )


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def review_url(review_id: str) -> str:
    return f"https://www.trustpilot.com/reviews/{review_id}"


def to_post(review: TrustpilotReview, *, source: str, known: Known | None) -> Post:
    """A review version -> Post. The title leads the text (customers often say it all
    there); the author is the Trustpilot consumer, so their earlier reviews of the brand
    go by a real id. `answer` is the brand's reply as it stands, also one written to an
    earlier version: a reply replaces it either way."""
    native_id = version_id(review.review_id, review.changed, known)
    name = review.consumer_name or "A Trustpilot user"
    return Post(
        platform=PLATFORM,
        native_id=native_id,
        kind=PostKind.REVIEW,
        text=f"{review.title}\n{review.text}".strip() if review.title else review.text,
        created_at=review.changed,
        author=Author(id=review.consumer_id or name, handle=name, display_name=name),
        url=review_url(review.review_id),
        lang=review.language.split("-")[0].lower() or None,
        conversation_id=review.review_id,
        source=source,
        raw=review.raw,
        review=Review(
            rating=review.rating,
            title=review.title,
            territory=review.country,
            previous_rating=known.rating if native_id != review.review_id and known else None,
            answer=review.answer,
        ),
    )
