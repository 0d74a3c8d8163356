"""Spike alert state: the last alerted spike of each statistic."""

from __future__ import annotations

from datetime import datetime

from watcher.store.base import Repository, _locked, from_iso, iso


class SpikeTables(Repository):
    """spike_state: one row per statistic, the first and last spiking hour of the spike
    last alerted. An hourly check that finds a run touching this range extends it
    instead of alerting again (see watcher/digest/spikes.py); the row is written in the same
    transaction as the alert's outbox row."""

    # --- spikes ---

    @_locked
    def last_spike(self, statistic: str) -> tuple[datetime, datetime] | None:
        """(first hour, last hour) of the statistic's last alerted spike, or None."""
        row = self.db.execute(
            "SELECT first_hour, last_hour FROM spike_state WHERE statistic = ?", [statistic]
        ).fetchone()
        return (from_iso(row[0]), from_iso(row[1])) if row else None

    @_locked
    def record_spike(self, statistic: str, *, first: datetime, last: datetime, now: datetime) -> None:
        """Set the statistic's last alerted spike to [first, last] (hours, UTC)."""
        self.db.execute(
            "INSERT INTO spike_state (statistic, first_hour, last_hour, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (statistic) DO UPDATE SET first_hour = excluded.first_hour, "
            "last_hour = excluded.last_hour, updated_at = excluded.updated_at",
            [statistic, iso(first), iso(last), iso(now)],
        )
