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
        if self.display_name is not (clean := storable_text(self.display_name)):
            object.__setattr__(self, "display_name", clean)

    @classmethod
    def trusted(cls, id: str, handle: str, display_name: str, followers: int, verified: bool) -> Author:
        """Author(...) for a connector's hot path (every field given, types already right):
        the same frozen Author, built without a setattr call per field (see `_filler`)."""
        author: Any = _AUTHOR_FILL()
        author.id, author.handle, author.display_name = id, handle, storable_text(display_name)
        author.followers, author.verified = followers, verified
        author.__class__ = cls
        return author


@dataclass(frozen=True, slots=True)
class Metrics:
    likes: int = 0
    reposts: int = 0
    replies: int = 0

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies

    @classmethod
    def trusted(cls, likes: int, reposts: int, replies: int) -> Metrics:
        """Metrics(...) without a setattr call per field (see `_filler`)."""
        metrics: Any = _METRICS_FILL()
        metrics.likes, metrics.reposts, metrics.replies = likes, reposts, replies
        metrics.__class__ = cls
        return metrics


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
    # derived once here: ingest reads them several times per post
    key: str = field(init=False, repr=False, compare=False)
    author_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("text", "parent_text"):
            value = getattr(self, name)
            if value is not None and value is not (clean := storable_text(value)):
                object.__setattr__(self, name, clean)
        if self.created_at.tzinfo is not UTC:
            if self.created_at.tzinfo is None:
                raise ValueError(f"post {self.platform}:{self.native_id}: created_at must be timezone-aware")
            if self.created_at.utcoffset() != UTC.utcoffset(None):
                object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
        object.__setattr__(self, "key", post_key(self.platform, self.native_id))
        object.__setattr__(self, "author_key", f"{self.platform}:{self.author.id}")

    @classmethod
    def trusted(
        cls,
        platform: str,
        native_id: str,
        kind: PostKind,
        text: str,
        created_at: datetime,
        author: Author,
        url: str,
        lang: str | None,
        parent_id: str | None,
        conversation_id: str | None,
        parent_text: str | None,
        metrics: Metrics,
        is_own: bool,
        is_repost: bool,
        source: str,
        raw: Mapping[str, Any],
        /,
    ) -> Post:
        """Post(...) for a connector's hot path, every field given in Post's field order with
        the right type: the same frozen Post, built without a setattr call per field (a
        frozen dataclass's __init__ makes 18, the largest cost of reading a post; see
        `_filler`). Positional only: CPython 3.11 takes microseconds to match 16 keywords."""
        if created_at.tzinfo is not UTC:  # Post() converts it or says what is wrong
            return cls(
                platform,
                native_id,
                kind,
                text,
                created_at,
                author,
                url,
                lang,
                parent_id,
                conversation_id,
                parent_text,
                metrics,
                is_own,
                is_repost,
                source,
                raw,
            )
        post: Any = _POST_FILL()
        text = storable_text(text)
        parent_text = None if parent_text is None else storable_text(parent_text)
        post.platform, post.native_id, post.kind, post.text = platform, native_id, kind, text
        post.created_at, post.author, post.url, post.lang = created_at, author, url, lang
        post.parent_id, post.conversation_id, post.parent_text = parent_id, conversation_id, parent_text
        post.metrics, post.is_own, post.is_repost, post.source, post.raw = metrics, is_own, is_repost, source, raw
        post.key, post.author_key = post_key(platform, native_id), f"{platform}:{author.id}"
        post.__class__ = cls
        return post


def _filler(cls: type) -> type:
    """An empty class with `cls`'s slots and none of its methods. `trusted` constructors
    fill one with plain attribute stores and then make it a `cls`: the object layout is the
    same, so CPython allows the __class__ change, and the result is an ordinary frozen
    instance (equal to, and as immutable as, one made by `cls(...)`)."""
    return type(f"_{cls.__name__}Fill", (), {"__slots__": cls.__dict__["__slots__"]})


_AUTHOR_FILL, _METRICS_FILL, _POST_FILL = _filler(Author), _filler(Metrics), _filler(Post)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with lone UTF-16 surrogates (a JSON "\\ud83d" escape without its pair, as a
    cut-off emoji leaves) replaced by U+FFFD. SQLite, like every UTF-8 writer, refuses
    them, and one such post used to fail its whole page at the store; the same text
    object comes back when there is nothing to replace."""
    if text.isascii() or not _LONE_SURROGATE.search(text):
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def post_key(platform: str, native_id: str) -> str:
    return f"{platform}:{native_id}"


_URL = re.compile(r"https?://\S+")
# drops the @ or # of a mention or hashtag: what [@#](\w+) -> \1 did, without a template to expand
_MENTION = re.compile(r"[@#](?=\w)")
_WORD = re.compile(r"[^\W_]+")  # a run of letters or digits
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def normalized_text(text: str) -> str:
    """Text reduced to what makes two posts 'the same words': no case, accents, links,
    punctuation or emoji. Used to collapse near-duplicates from one author.

    Stored norm_text is compared with new posts' across versions, so the result must
    never change; the guards only skip steps that would change nothing."""
    if "http" in text:
        text = _URL.sub(" ", text)
    if "@" in text or "#" in text:
        text = _MENTION.sub("", text)
    # ASCII: casefold is lower, NFKD changes nothing and there are no combining marks
    text = text.lower() if text.isascii() else _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))
    # the words are _WORD's runs of letters and digits (str.isalnum, char by char, is what
    # [^\W_] matches); whitespace never joins two, and most whitespace-separated tokens are
    # one run already, so only the others go through the regex (16% fewer instructions)
    words: list[str] = []
    for token in text.split():
        if token.isalnum():
            words.append(token)
        else:
            words += _WORD.findall(token)
    return " ".join(words)


def parse_timestamp(value: str | int | float | datetime) -> datetime:
    """ISO 8601 (a trailing Z allowed) or epoch seconds -> aware UTC datetime."""
    if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T":
        # the usual "2026-11-18T00:04:46Z": fromisoformat reads the Z as UTC itself
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # the general path below says what is wrong
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
