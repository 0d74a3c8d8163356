"""What the review connectors (Google Play, App Store, Trustpilot) share: the read
position in the cursor and how an edited review becomes a new post.

A review listing is newest change first. The cursor keeps a watermark (the newest
change read and the ids read at that second) and the stars of the reviews read, so a
review the customer rewrites comes back as a new post that knows its earlier rating:
its native id is `<review id>@<epoch seconds of the edit>` and its conversation is the
review id, which also ties it to the earlier versions in the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import PostedReply
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp

CURSOR_VERSION = 1
MAX_IDS = 50  # ids kept at the watermark second
MAX_KNOWN = 5000  # reviews whose stars are remembered (the newest changes win)


def version_id(review_id: str, changed: datetime, known: Known | None) -> str:
    """The native id of one version of a review: the review id for the first version read,
    `<id>@<epoch seconds>` for a later edit (an earlier version is stored under its own)."""
    if known is None or known.changed >= changed:
        return review_id
    return f"{review_id}@{int(changed.timestamp())}"


def review_id_of(native_id: str) -> str:
    """The platform's review id of a version's native id (what a reply is sent to)."""
    return native_id.split("@", 1)[0]


def own_answer(post: Post, answer: str, answered: datetime | None, text: str | None) -> PostedReply | None:
    """The brand's answer on a review as a reply to `post`: with these words, or any written
    after this version of the review (an answer to an earlier version does not answer an
    edit); None when there is none."""
    if not answer or answered is None:
        return None
    if text is not None and " ".join(answer.split()) != " ".join(text.split()):
        return None
    if text is None and answered < post.created_at:
        return None
    review_id = review_id_of(post.native_id)
    return PostedReply(platform=post.platform, native_id=f"{review_id}:reply", url=post.url, posted_at=answered)


@dataclass(frozen=True)
class Known:
    """A review read before: its stars and when it last changed."""

    rating: int
    changed: datetime


@dataclass
class ReviewState:
    """The cursor of a review source."""

    at: datetime | None = None  # the newest change read
    ids: tuple[str, ...] = ()  # the reviews read at that second
    known: dict[str, Known] = field(default_factory=dict)
    polled_at: datetime | None = None  # when the last fetch read the listing

    def is_new(self, changed: datetime, review_id: str) -> bool:
        if self.at is None or changed > self.at:
            return True
        return changed == self.at and review_id not in self.ids

    def is_below(self, changed: datetime) -> bool:
        return self.at is not None and changed < self.at

    def advance(self, read: Iterable[tuple[str, int, datetime]]) -> None:
        """Move the watermark over the (review id, stars, changed) read and remember their stars."""
        ids = list(self.ids)
        for review_id, rating, changed in read:
            if self.at is None or changed > self.at:
                self.at, ids = changed, [review_id]
            elif changed == self.at and review_id not in ids:
                ids.append(review_id)
            self.known[review_id] = Known(rating, changed)
        self.ids = tuple(ids[-MAX_IDS:])
        if len(self.known) > MAX_KNOWN:
            newest = sorted(self.known.items(), key=lambda kv: kv[1].changed, reverse=True)[:MAX_KNOWN]
            self.known = dict(newest)

    def gap(self, now: datetime, window: timedelta) -> timedelta | None:
        """How much longer than `window` ago the last poll was (None: no gap)."""
        if self.polled_at is None or now - self.polled_at <= window:
            return None
        return now - self.polled_at - window

    def to_cursor(self) -> Cursor:
        return Cursor(
            {
                "v": CURSOR_VERSION,
                "at": self.at.isoformat() if self.at else None,
                "ids": list(self.ids),
                "known": {k: [v.rating, v.changed.isoformat()] for k, v in sorted(self.known.items())},
                "polled_at": self.polled_at.isoformat() if self.polled_at else None,
            }
        )

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> ReviewState:
        """The state in `cursor`; an empty one for none or another version (a first run)."""
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data: Mapping[str, Any] = cursor.state
        known = {str(k): Known(int(v[0]), parse_timestamp(str(v[1]))) for k, v in (data.get("known") or {}).items()}
        return cls(
            at=_time(data.get("at")),
            ids=tuple(str(i) for i in data.get("ids") or ()),
            known=known,
            polled_at=_time(data.get("polled_at")),
        )


def _time(value: Any) -> datetime | None:
    return parse_timestamp(str(value)) if value else None
