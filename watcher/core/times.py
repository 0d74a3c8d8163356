"""The one timestamp format the watcher stores and reads back: UTC ISO 8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """The one timestamp format in the database: UTC, microseconds, sortable as text."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # moment.isoformat(timespec="microseconds") spelled out: 40% fewer instructions (callgrind), one
    # per stored post; % is cheaper here than an f-string with seven format specs
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
