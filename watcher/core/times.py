"""The one timestamp format the watcher stores and reads back: UTC ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """The one timestamp format in the database: UTC, microseconds, sortable as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
