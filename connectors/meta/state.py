"""The read position of a Facebook or Instagram source, kept in its Cursor.

Comments have no since-id, so every post or media the source follows keeps a
watermark: the newest comment time read under it and the ids read at that very
second (a second holds several comments). Beside it sits the activity marker last
read (Facebook's `updated_time`, Instagram's `comments_count`): while the listing
shows the same marker, nothing is asked about that post. Streams without comments
(visitor posts, tags, ratings) keep one watermark each. `blocked_until` carries a
throttle across a restart when a fetch had to stop half way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from watcher.core.cursor import Cursor
from watcher.core.post import parse_timestamp

CURSOR_VERSION = 1
MAX_IDS = 50  # ids kept at one watermark second (more than that in one second is a flood anyway)


@dataclass(frozen=True)
class Mark:
    """The newest creation time read and the ids read at it."""

    at: datetime | None = None
    ids: tuple[str, ...] = ()

    def is_new(self, created: datetime, item_id: str) -> bool:
        if self.at is None or created > self.at:
            return True
        return created == self.at and item_id not in self.ids

    def is_below(self, created: datetime) -> bool:
        return self.at is not None and created < self.at

    def advanced(self, items: Iterable[tuple[datetime, str]]) -> Mark:
        at, ids = self.at, list(self.ids)
        for created, item_id in items:
            if at is None or created > at:
                at, ids = created, [item_id]
            elif created == at and item_id not in ids:
                ids.append(item_id)
        return Mark(at, tuple(ids[-MAX_IDS:]))

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "ids": list(self.ids)}

    @classmethod
    def from_json(cls, data: Any) -> Mark:
        if not isinstance(data, Mapping) or not data.get("at"):
            return cls()
        return cls(parse_timestamp(str(data["at"])), tuple(str(i) for i in data.get("ids") or ()))


@dataclass(frozen=True)
class Watched:
    """One post or media whose comments the source follows."""

    created: datetime
    seen: str  # the activity marker when its comments were last read
    mark: Mark
    active: datetime  # its newest comment read, or its creation

    def to_json(self) -> dict[str, Any]:
        return {"created": self.created.isoformat(), "seen": self.seen, "active": self.active.isoformat()} | {
            "mark": self.mark.to_json()
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Watched:
        created = parse_timestamp(str(data["created"]))
        return cls(
            created=created,
            seen=str(data.get("seen") or ""),
            mark=Mark.from_json(data.get("mark")),
            active=parse_timestamp(str(data.get("active") or data["created"])),
        )

    def read(self, seen: str, mark: Mark) -> Watched:
        return replace(self, seen=seen, mark=mark, active=max(self.active, mark.at or self.active))


@dataclass
class MetaState:
    watched: dict[str, Watched] = field(default_factory=dict)
    marks: dict[str, Mark] = field(default_factory=dict)
    blocked_until: datetime | None = None
    # when a stream the token may not read (ratings) was last refused, to ask again only daily
    refused: dict[str, datetime] = field(default_factory=dict)

    def to_cursor(self) -> Cursor:
        return Cursor(
            {
                "v": CURSOR_VERSION,
                "watched": {key: w.to_json() for key, w in sorted(self.watched.items())},
                "marks": {key: m.to_json() for key, m in sorted(self.marks.items())},
                "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None,
                "refused": {key: when.isoformat() for key, when in sorted(self.refused.items())},
            }
        )

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> MetaState:
        """The state in `cursor`; an empty one for no cursor or one of another version
        (a first run: the window is read again and ingest skips what it has)."""
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data = cursor.state
        watched = {str(k): Watched.from_json(v) for k, v in (data.get("watched") or {}).items()}
        marks = {str(k): Mark.from_json(v) for k, v in (data.get("marks") or {}).items()}
        blocked = data.get("blocked_until")
        refused = {str(k): parse_timestamp(str(v)) for k, v in (data.get("refused") or {}).items()}
        return cls(watched, marks, parse_timestamp(str(blocked)) if blocked else None, refused)
