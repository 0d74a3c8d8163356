"""Each source's health, back-off, persisted rate-limit windows and cursor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from watcher.core.cursor import Cursor
from watcher.store.base import Repository, _locked, from_iso, iso


@dataclass(frozen=True)
class SourceState:
    """A source's health as the poller left it; the defaults are a source never polled."""

    healthy: bool = True
    message: str = ""
    failures: int = 0  # polls failed in a row
    backoff_until: datetime | None = None  # no poll before this (a failure or a rate limit)
    rate_limits: Mapping[str, datetime] = field(default_factory=dict)  # endpoint -> its reset
    last_success_at: datetime | None = None


class SourceTables(Repository):
    """Per-source health, back-off, rate-limit windows and cursor, kept across restarts."""

    # --- source health and rate limits --------------------------------------

    @_locked
    def source_state(self, source: str) -> SourceState:
        row = self.db.execute(
            "SELECT healthy, message, failures, backoff_until, rate_limits, last_success_at FROM source_state "
            "WHERE source = ?",
            [source],
        ).fetchone()
        if row is None:
            return SourceState()
        return SourceState(
            healthy=bool(row[0]),
            message=row[1] or "",
            failures=row[2] or 0,
            backoff_until=from_iso(row[3]) if row[3] else None,
            rate_limits={k: from_iso(v) for k, v in json.loads(row[4] or "{}").items()},
            last_success_at=from_iso(row[5]) if row[5] else None,
        )

    @_locked
    def save_source_state(
        self,
        source: str,
        *,
        healthy: bool,
        message: str,
        failures: int,
        backoff_until: datetime | None,
        rate_limits: Mapping[str, datetime],
        last_success_at: datetime | None,
    ) -> None:
        self.db.table("source_state").upsert(
            {
                "source": source,
                "healthy": int(healthy),
                "message": message,
                "failures": failures,
                "backoff_until": iso(backoff_until) if backoff_until else None,
                "rate_limits": json.dumps({k: iso(v) for k, v in rate_limits.items()}),
                "last_success_at": iso(last_success_at) if last_success_at else None,
            },
            pk="source",
        )

    # --- cursors ------------------------------------------------------------

    @_locked
    def get_cursor(self, source: str) -> Cursor | None:
        row = self.db.execute("SELECT cursor FROM cursors WHERE source = ?", [source]).fetchone()
        return Cursor.from_json(row[0]) if row else None

    @_locked
    def set_cursor(self, source: str, cursor: Cursor, *, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO cursors (source, cursor, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            [source, cursor.to_json(), iso(now)],
        )
