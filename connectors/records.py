"""One JSON record -> Post mapper, for the replay connector (JSONL and CSV exports)
and `watcher score`: every field is checked for its type here, so a wrong one is
that record's error (a RecordError naming the field), never a crash or a guess.

A record carries the fields of `watcher.core.post.Post`: `id` and `text` are required,
`created_at` too unless the caller gives a default time; `author` is an object (id,
handle, name, followers, verified) or a handle, or the flat CSV columns author_id,
author_handle, author_name, followers, verified; counts sit in `metrics` or flat
(likes, reposts, replies). `lang_hint` is read as `lang`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watcher.core.post import Author, Metrics, Post, PostKind, RawJson, Review, parse_timestamp

MAX_COUNT = 10**12  # far above any real account; keeps the engine's float and int64 columns exact
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "f"})
_KINDS = {kind.value: kind for kind in PostKind}


class RecordError(ValueError):
    """A record that cannot become a Post; the message names the field."""


def shown(value: Any) -> str:
    """A value for an error message: its repr, cut short (an input line can be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _string(record: Mapping[str, Any], key: str) -> str | None:
    """record[key] as a string, None when absent or empty."""
    value = record.get(key)
    if _blank(value):
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} must be a string, got {shown(value)}")
    return value


def identifier(value: Any, where: str) -> str:
    """An id or handle: a string or a whole number (JSON ids are often numbers)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise RecordError(f"{where} must be a string or a whole number, got {shown(value)}")


def _optional_id(record: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = record.get(key)
    return None if _blank(value) else identifier(value, where or key)


def count(value: Any, where: str) -> int:
    """A count: a whole number (1000, 1000.0 or "1000") from 0 to MAX_COUNT; blank is 0."""
    if _blank(value):
        return 0
    found: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        found = value
    elif isinstance(value, float) and value.is_integer():  # inf and nan are not
        found = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        found = int(value.strip())
    if found is None or not 0 <= found <= MAX_COUNT:
        raise RecordError(f"{where} must be a whole number from 0 to {MAX_COUNT} like 1000, got {shown(value)}")
    return found


def flag(value: Any, where: str) -> bool:
    """true/false, or a CSV cell's word for it (yes/no, 1/0, ...); blank is false."""
    if isinstance(value, bool):
        return value
    if _blank(value):
        return False
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise RecordError(f"{where} must be true or false, got {shown(value)}")


def created_at(value: Any) -> datetime:
    """ISO 8601 with a time zone, or epoch seconds."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise RecordError(f'created_at must be a time like "2026-11-20T10:00:00Z" or epoch seconds, got {shown(value)}')
    out_of_range = f"created_at: {shown(value)} is out of range" + (
        "" if isinstance(value, str) else " for epoch seconds (milliseconds? divide by 1000)"
    )
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        if isinstance(value, str):
            raise RecordError(f"created_at: {exc}") from None
        raise RecordError(out_of_range) from None  # a year past 9999
    except (OverflowError, OSError):  # beyond what the platform's clock functions (or year 1..9999 in UTC) take
        raise RecordError(out_of_range) from None


def author(record: Mapping[str, Any]) -> Author:
    """`author` as an object or a handle (or id), else the flat CSV columns."""
    value = record.get("author")
    if isinstance(value, Mapping):
        fields: Mapping[str, Any] = value
        prefix = "author."
    elif _blank(value):
        fields = {
            "id": record.get("author_id"),
            "handle": record.get("author_handle"),
            "name": record.get("author_name"),
            "followers": record.get("followers"),
            "verified": record.get("verified"),
        }
        prefix = "author_"
    else:
        name = identifier(value, "author")
        return Author(id=name, handle=name)
    handle = _optional_id(fields, "handle", f"{prefix}handle")
    ident = _optional_id(fields, "id", f"{prefix}id")
    display = fields.get("name")
    if not _blank(display) and not isinstance(display, str):
        raise RecordError(f"{prefix}name must be a string, got {shown(display)}")
    return Author(
        id=ident or handle or "unknown",
        handle=handle or ident or "unknown",
        display_name=display or "",
        followers=count(fields.get("followers"), "author.followers" if prefix == "author." else "followers"),
        verified=flag(fields.get("verified"), "author.verified" if prefix == "author." else "verified"),
    )


def record_to_post(
    record: Any,
    *,
    default_platform: str = "import",
    source: str = "",
    json_text: str | None = None,
    default_time: datetime | None = None,
) -> Post:
    """One record -> Post, or RecordError naming the field. Pure. `json_text` is the
    JSON object the record was parsed from: it becomes the raw payload as is. Without
    `default_time`, created_at is required."""
    if not isinstance(record, Mapping):
        raise RecordError("expected a JSON object with at least id and text")
    for key in ("id", "text"):
        if _blank(record.get(key)):
            raise RecordError(f"missing required field {key!r}")
    native_id = identifier(record["id"], "id")
    if not isinstance(record["text"], str):
        raise RecordError(f"text must be a string, got {shown(record['text'])}")
    if not _blank(record.get("created_at")):
        moment = created_at(record["created_at"])
    elif default_time is not None:
        moment = default_time
    else:
        raise RecordError("missing required field 'created_at'")
    kind_text = _string(record, "kind") or "post"
    kind = _KINDS.get(kind_text)
    if kind is None:
        raise RecordError(f"kind {kind_text!r} is not one of {', '.join(k.value for k in PostKind)}")
    metrics = record.get("metrics")
    counts: Mapping[str, Any] = metrics if isinstance(metrics, Mapping) else record
    try:
        return Post(
            platform=_string(record, "platform") or default_platform,
            native_id=native_id,
            kind=kind,
            text=record["text"],
            created_at=moment,
            author=author(record),
            url=_string(record, "url") or "",
            lang=_string(record, "lang") or _string(record, "lang_hint"),
            parent_id=_optional_id(record, "parent_id"),
            conversation_id=_optional_id(record, "conversation_id"),
            parent_text=_string(record, "parent_text"),
            metrics=Metrics(
                likes=count(counts.get("likes"), "likes"),
                reposts=count(counts.get("reposts"), "reposts"),
                replies=count(counts.get("replies"), "replies"),
            ),
            is_own=flag(record.get("is_own"), "is_own"),
            is_repost=flag(record.get("is_repost"), "is_repost"),
            source=_string(record, "source") or source,
            raw=dict(record) if json_text is None else RawJson(json_text),
            review=review(record.get("review")),
        )
    except (ValueError, TypeError) as exc:
        raise RecordError(str(exc)) from None


def review(value: Any) -> Review | None:
    """A record's `review` object (rating, title, app_version, ...) or None."""
    if value in (None, ""):
        return None
    if not isinstance(value, Mapping) or "rating" not in value:
        raise RecordError("review must be an object with a rating (1-5)")
    try:
        return Review.from_json(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"review: {exc}") from None
