"""Google Play review payloads -> Posts. Pure: no I/O, tested table-driven."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.reviews import Known, version_id
from watcher.core.post import MAX_STARS, MIN_STARS, Author, Post, PostKind, Review

PLATFORM = "google_play"


class ItemError(ValueError):
    """A review that cannot be read (missing id, stars or time)."""


@dataclass(frozen=True)
class PlayReview:
    """The fields of one `reviews.list` item the connector uses."""

    review_id: str
    rating: int
    changed: datetime  # the customer's last edit (userComment.lastModified)
    text: str
    author: str
    version: str
    language: str
    answer: str  # the developer's current answer, "" when none
    answered: datetime | None
    raw: Mapping[str, Any]


def play_time(value: Any) -> datetime:
    """Play's Timestamp ({"seconds": "1763...", "nanos": 0}) -> aware UTC datetime."""
    if not isinstance(value, Mapping):
        raise ItemError(f"a time must be an object with seconds, got {value!r}")
    try:
        seconds = int(value["seconds"])
        return datetime.fromtimestamp(seconds + int(value.get("nanos") or 0) / 1e9, UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise ItemError(f"unreadable time {value!r}") from None


def parse_review(raw: Any) -> PlayReview:
    """One `reviews.list` item; raises ItemError naming what is missing."""
    if not isinstance(raw, Mapping):
        raise ItemError("a review is not an object")
    review_id = raw.get("reviewId")
    if not isinstance(review_id, str) or not review_id:
        raise ItemError("no reviewId")
    user: Mapping[str, Any] | None = None
    developer: Mapping[str, Any] | None = None
    for comment in raw.get("comments") or ():
        if isinstance(comment, Mapping):
            user = comment.get("userComment") or user
            developer = comment.get("developerComment") or developer
    if not isinstance(user, Mapping):
        raise ItemError(f"review {review_id} has no userComment")
    stars = user.get("starRating")
    if not isinstance(stars, int) or isinstance(stars, bool) or not MIN_STARS <= stars <= MAX_STARS:
        raise ItemError(f"review {review_id}: starRating {stars!r} is not 1-5")
    answered = play_time(developer.get("lastModified")) if isinstance(developer, Mapping) else None
    return PlayReview(
        review_id=review_id,
        rating=stars,
        changed=play_time(user.get("lastModified")),
        text=str(user.get("text") or "").strip(),
        author=str(raw.get("authorName") or ""),
        version=str(user.get("appVersionName") or ""),
        language=str(user.get("reviewerLanguage") or ""),
        answer=str(developer.get("text") or "") if isinstance(developer, Mapping) else "",
        answered=answered,
        raw=raw,
    )


def review_url(package: str, review_id: str) -> str:
    return f"https://play.google.com/store/apps/details?id={quote(package)}&reviewId={quote(review_id)}"


def to_post(review: PlayReview, *, package: str, source: str, known: Known | None) -> Post:
    """A review version -> Post. Play names no author id: the author is the display name
    (the same name on two reviews may be two people). `answer` is the brand's answer as it
    stands, also one written to an earlier version: a reply replaces it either way."""
    native_id = version_id(review.review_id, review.changed, known)
    name = review.author or "A Google user"
    return Post(
        platform=PLATFORM,
        native_id=native_id,
        kind=PostKind.REVIEW,
        text=review.text,
        created_at=review.changed,
        author=Author(id=name, handle=name, display_name=name),
        url=review_url(package, review.review_id),
        lang=review.language.split("_")[0].lower() or None,
        conversation_id=review.review_id,
        source=source,
        raw=review.raw,
        review=Review(
            rating=review.rating,
            app_version=review.version,
            territory=review.language,
            previous_rating=known.rating if native_id != review.review_id and known else None,
            answer=review.answer,
        ),
    )
