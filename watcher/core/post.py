"""The normalized post: the one vocabulary connectors, rules, store and Slack share."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class PostKind(StrEnum):
    POST = "post"
    COMMENT = "comment"
    REPLY = "reply"
    MENTION = "mention"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    handle: str
    display_name: str = ""
    followers: int = 0
    verified: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "display_name", storable_text(self.display_name))


@dataclass(frozen=True, slots=True)
class Metrics:
    likes: int = 0
    reposts: int = 0
    replies: int = 0

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies


class RawJson(Mapping[str, Any]):
    """A read-only payload kept as the JSON object text it came in: the store writes the
    text as is, and the object is parsed only if something reads it (rarely), so a
    replayed file does not hold every record twice in memory."""

    __slots__ = ("_data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._data: dict[str, Any] | None = None

    def _object(self) -> dict[str, Any]:
        if self._data is None:
            data = json.loads(self.text)
            if not isinstance(data, dict):
                raise ValueError(f"raw payload is not a JSON object: {self.text[:60]!r}")
            self._data = data
        return self._data

    def __getitem__(self, name: str) -> Any:
        return self._object()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._object())

    def __len__(self) -> int:
        return len(self._object())

    def __repr__(self) -> str:
        return f"RawJson({self.text!r})"


MIN_STARS, MAX_STARS = 1, 5


@dataclass(frozen=True, slots=True)
class Review:
    """What an app store or review site adds to a post: the stars, and the brand's
    public answer as it stands (a new reply replaces it)."""

    rating: int  # 1-5 stars
    title: str = ""
    app_version: str = ""  # the app version the customer reviewed (app stores)
    territory: str = ""  # the store country (App Store) or the reviewer's language (Google Play)
    previous_rating: int | None = None  # the rating before the customer edited the review
    answer: str = ""  # the brand's current answer, "" when none
    answer_pending: bool = False  # answered, but the platform has not published it yet

    def __post_init__(self) -> None:
        for name, stars in (("rating", self.rating), ("previous_rating", self.previous_rating)):
            if stars is not None and not MIN_STARS <= stars <= MAX_STARS:
                raise ValueError(f"{name} must be {MIN_STARS} to {MAX_STARS} stars, got {stars!r}")
        object.__setattr__(self, "title", storable_text(self.title))
        object.__setattr__(self, "answer", storable_text(self.answer))

    @property
    def rating_drop(self) -> int:
        """Stars lost in the customer's last edit (0 for a first review or a raise)."""
        return max(0, self.previous_rating - self.rating) if self.previous_rating else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "rating": self.rating,
            "title": self.title,
            "app_version": self.app_version,
            "territory": self.territory,
            "previous_rating": self.previous_rating,
            "answer": self.answer,
            "answer_pending": self.answer_pending,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Review:
        previous = data.get("previous_rating")
        return cls(
            rating=int(data["rating"]),
            title=str(data.get("title") or ""),
            app_version=str(data.get("app_version") or ""),
            territory=str(data.get("territory") or ""),
            previous_rating=int(previous) if previous else None,
            answer=str(data.get("answer") or ""),
            answer_pending=bool(data.get("answer_pending")),
        )


@dataclass(frozen=True, slots=True)
class Post:
    """One post, comment or mention, as every platform's payload is mapped to it.

    `native_id` is the platform's own id; `key` (platform:native_id) is unique across
    the whole store. `raw` keeps the platform payload for audit and re-mapping.
    """

    platform: str
    native_id: str
    kind: PostKind
    text: str
    created_at: datetime
    author: Author
    url: str = ""
    lang: str | None = None
    parent_id: str | None = None
    conversation_id: str | None = None
    parent_text: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    is_own: bool = False
    is_repost: bool = False
    source: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    review: Review | None = None  # the stars and answer of an app store or site review
    # derived from the fields above (not arguments): the store's and ingest's lookup keys
    key: str = field(init=False, repr=False, compare=False)
    author_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", storable_text(self.text))
        if self.parent_text is not None:
            object.__setattr__(self, "parent_text", storable_text(self.parent_text))
        if self.created_at.tzinfo is None:
            raise ValueError(f"post {self.platform}:{self.native_id}: created_at must be timezone-aware")
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
        object.__setattr__(self, "key", post_key(self.platform, self.native_id))
        object.__setattr__(self, "author_key", f"{self.platform}:{self.author.id}")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with lone UTF-16 surrogates (a JSON "\\ud83d" escape without its pair, as a
    cut-off emoji leaves) replaced by U+FFFD. SQLite, like every UTF-8 writer, refuses
    them, and one such post used to fail its whole page at the store."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def post_key(platform: str, native_id: str) -> str:
    return f"{platform}:{native_id}"


_URL = re.compile(r"https?://\S+")
# drops the @ or # of a mention or hashtag
_MENTION = re.compile(r"[@#](?=\w)")
_WORD = re.compile(r"[^\W_]+")  # a run of letters or digits
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def normalized_text(text: str) -> str:
    """Text reduced to what makes two posts 'the same words': no case, accents, links,
    punctuation or emoji. Used to collapse near-duplicates from one author.

    Stored norm_text is compared with new posts' across versions, so the result must
    never change."""
    text = _MENTION.sub("", _URL.sub(" ", text))
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return " ".join(_WORD.findall(text))


def parse_timestamp(value: str | int | float | datetime) -> datetime:
    """ISO 8601 (a trailing Z allowed) or epoch seconds -> aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; add Z or +00:00")
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
