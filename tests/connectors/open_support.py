"""What the tests of the open-network connectors share: a hand-moved clock and the
store's round trip of a cursor."""

from __future__ import annotations

from datetime import datetime, timedelta

from watcher.core.cursor import Cursor


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def roundtrip(cursor: Cursor | None) -> Cursor | None:
    """What the store does with a cursor between polls and restarts."""
    return Cursor.from_json(cursor.to_json()) if cursor else None
