"""The outbox (notifications, never sent twice) and the replies table (a reply's
idempotency key, stored before the platform is called)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watcher.core.item import OutboxRow
from watcher.store.base import Repository, _dicts, _locked, compact_json, from_iso, iso


class OutboxTables(Repository):
    """Outbox rows: what makes a notification exactly-once."""

    # --- outbox -------------------------------------------------------------

    @_locked
    def enqueue_outbox(
        self,
        kind: str,
        dedupe_key: str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        channel: str = "",
        item_id: int | None = None,
    ) -> int | None:
        """Add a notification unless one with this dedupe key exists (never alert twice)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO outbox (kind, dedupe_key, channel, item_id, payload, status, attempts, "
            "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
            [kind, dedupe_key, channel, item_id, compact_json(dict(payload)), iso(now), iso(now)],
        )
        return int(cur.lastrowid) if cur.rowcount == 1 and cur.lastrowid else None

    @_locked
    def due_outbox(self, *, now: datetime, limit: int = 100) -> list[OutboxRow]:
        rows = self.db.execute(
            "SELECT id, kind, dedupe_key, channel, item_id, payload, attempts, ref FROM outbox "
            "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [iso(now), limit],
        ).fetchall()
        return [
            OutboxRow(
                id=r[0],
                kind=r[1],
                dedupe_key=r[2],
                channel=r[3] or "",
                item_id=r[4],
                payload=json.loads(r[5]),
                attempts=int(r[6] or 0),
                ref=r[7],
            )
            for r in rows
        ]

    @_locked
    def mark_outbox_sent(self, outbox_id: int, *, ref: str, now: datetime) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'sent', ref = ?, sent_at = ?, last_error = NULL WHERE id = ?",
            [ref, iso(now), outbox_id],
        )

    @_locked
    def mark_outbox_retry(self, outbox_id: int, *, next_attempt_at: datetime, error: str) -> None:
        self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL WHERE id = ?",
            [iso(next_attempt_at), error[:500], outbox_id],
        )

    @_locked
    def mark_outbox_failed(self, outbox_id: int, *, error: str) -> None:
        self.db.execute("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?", [error[:500], outbox_id])

    @_locked
    def outbox_counts(self) -> dict[str, int]:
        # the rows waiting and given up through their partial index; sent is the rest
        counts = {
            status: int(self.db.execute("SELECT COUNT(*) FROM outbox WHERE status = ?", [status]).fetchone()[0])
            for status in ("pending", "failed")
        }
        sent = int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]) - sum(counts.values())
        return {status: n for status, n in {**counts, "sent": sent}.items() if n}

    def prune_payloads(self, before: datetime, *, batch: int = 500) -> int:
        """Clear the payload of rows sent before `before`, a batch per transaction; the row
        (its dedupe key: never sent twice) stays. Returns how many were cleared."""
        cleared = 0
        while True:
            with self.transaction():
                count = self.db.execute(
                    "UPDATE outbox SET payload = NULL WHERE rowid IN (SELECT rowid FROM outbox "
                    "WHERE status = 'sent' AND payload IS NOT NULL AND sent_at < ? LIMIT ?)",
                    [iso(before), batch],
                ).rowcount
            cleared += count
            if count < batch:
                return cleared

    @_locked
    def outbox_row(self, outbox_id: int) -> dict[str, Any] | None:
        """Status and ref of one outbox row, read fresh (has another flush delivered it?)."""
        row = self.db.execute("SELECT status, ref, attempts FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        return {"status": row[0], "ref": row[1], "attempts": row[2]} if row else None

    @_locked
    def lease_outbox(self, outbox_id: int, *, now: datetime, until: datetime, owner: str = "") -> bool:
        """Take a due, pending row for delivery until `until`, for process `owner`; False when
        another process or thread took it first. A crash mid-delivery frees it at `until`, or
        sooner through `free_outbox_leases`. Taking it counts as an attempt, recorded before
        the send (crash forensics)."""
        cur = self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1, lease_owner = ? "
            "WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
            [iso(until), owner or None, outbox_id, iso(now)],
        )
        return cur.rowcount == 1

    @_locked
    def outbox_lease_owners(self, *, now: datetime) -> set[str]:
        """The processes holding a delivery lease on a pending row now."""
        rows = self.db.execute(
            "SELECT DISTINCT lease_owner FROM outbox WHERE status = 'pending' AND next_attempt_at > ? "
            "AND lease_owner IS NOT NULL",
            [iso(now)],
        ).fetchall()
        return {str(r[0]) for r in rows}

    @_locked
    def free_outbox_leases(self, owner: str, *, now: datetime) -> int:
        """Make the rows `owner` (a process that is gone) held due now; returns how many."""
        cur = self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, lease_owner = NULL "
            "WHERE status = 'pending' AND lease_owner = ? AND next_attempt_at > ?",
            [iso(now), owner, iso(now)],
        )
        return cur.rowcount

    # --- outbox: one channel waits ---

    @_locked
    def defer_outbox_channel(self, channel: str, *, now: datetime, until: datetime, error: str) -> None:
        """Put off, until `until`, the due pending rows addressed to `channel` (the bot is not in
        it, or cannot see it): one refusal stands for all of them, and the flush goes on with
        other channels. Rows leased elsewhere are not due, so they are left alone."""
        self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = NULL "
            "WHERE status = 'pending' AND channel = ? AND next_attempt_at <= ?",
            [iso(until), error[:500], channel, iso(now)],
        )

    # --- outbox backlog (watcher check, the flush warning) ---

    @_locked
    def outbox_backlog(self) -> dict[str, Any]:
        """Counts by status, the oldest row still waiting and the newest given up: what an
        operator needs to see that messages wait (Slack down, bot not invited) or were refused."""
        counts = self.outbox_counts()
        oldest = _dicts(
            self.db.execute(
                "SELECT id, kind, item_id, created_at, attempts, last_error FROM outbox "
                "WHERE status = 'pending' ORDER BY id LIMIT 1"
            )
        )
        failed = _dicts(
            self.db.execute(
                "SELECT id, kind, item_id, last_error FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT 1"
            )
        )
        for row in oldest:
            row["created_at"] = from_iso(row["created_at"])
        return {
            "sent": counts.get("sent", 0),
            "waiting": counts.get("pending", 0),
            "failed": counts.get("failed", 0),
            "oldest": oldest[0] if oldest else None,
            "last_failed": failed[0] if failed else None,
        }

    @_locked
    def outbox_tried_ids(self, dedupe_prefix: str) -> list[int]:
        """Rows whose dedupe key starts with `dedupe_prefix`, tried and not marked sent: each
        may have reached the service all the same (a 500 after it stored the message, a crash)."""
        # a range on the dedupe_key index: every key that starts with the prefix sorts inside it
        upper = dedupe_prefix[:-1] + chr(ord(dedupe_prefix[-1]) + 1)
        rows = self.db.execute(
            "SELECT id FROM outbox WHERE dedupe_key >= ? AND dedupe_key < ? AND status = 'pending' AND attempts > 0 "
            "ORDER BY id",
            [dedupe_prefix, upper],
        ).fetchall()
        return [int(r[0]) for r in rows]


class ReplyTables(Repository):
    """Reply rows: a reply's idempotency key, stored before the platform is called, and the
    send lease that lets one send at a time call the platform for an item."""

    # --- replies (idempotency) ----------------------------------------------

    @_locked
    def reserve_reply(self, key: str, *, item_id: int, post_key: str, text: str, now: datetime) -> dict[str, Any]:
        """Store the reply's idempotency key before calling the platform; return the row
        (an existing one if this key was reserved before); `fresh` says which."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO replies (key, item_id, post_key, text, status, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            [key, item_id, post_key, text, iso(now), iso(now)],
        )
        return {**(self.get_reply(key) or {}), "fresh": cur.rowcount == 1}

    @_locked
    def get_reply(self, key: str) -> dict[str, Any] | None:
        rows = _dicts(
            self.db.execute(
                "SELECT key, item_id, post_key, text, status, platform_reply_id, url, error, created_at, updated_at "
                "FROM replies WHERE key = ?",
                [key],
            )
        )
        return rows[0] if rows else None

    @_locked
    def finish_reply(
        self, key: str, *, status: str, now: datetime, platform_reply_id: str = "", url: str = "", error: str = ""
    ) -> None:
        self.db.execute(
            "UPDATE replies SET status = ?, platform_reply_id = ?, url = ?, error = ?, updated_at = ? WHERE key = ?",
            [status, platform_reply_id, url, error[:500], iso(now), key],
        )

    # --- send lease and look-before-posting ---------------------------------

    @_locked
    def lease_reply(self, key: str, *, item_id: int, now: datetime, until: datetime) -> bool:
        """Take the right to call the platform with reply `key` until `until`; False while
        any reply of the item is leased to another send (a click in another process, or
        one that has not finished). The check and the take are one UPDATE, so of two
        processes only one wins; a process that dies mid-send frees it at `until`."""
        cur = self.db.execute(
            "UPDATE replies SET posting_until = ? WHERE key = ? AND NOT EXISTS "
            "(SELECT 1 FROM replies WHERE item_id = ? AND posting_until > ?)",
            [iso(until), key, item_id, iso(now)],
        )
        return cur.rowcount == 1

    @_locked
    def release_reply(self, key: str, *, until: datetime) -> None:
        """End the lease taken until `until` (a lease that ran out and was taken by another
        send since is theirs, and stays)."""
        self.db.execute(
            "UPDATE replies SET posting_until = NULL WHERE key = ? AND posting_until = ?", [key, iso(until)]
        )

    @_locked
    def reply_lease_until(self, item_id: int, *, now: datetime) -> str | None:
        """When the lease on one of the item's replies runs out; None when none is held."""
        row = self.db.execute(
            "SELECT MAX(posting_until) FROM replies WHERE item_id = ? AND posting_until > ?", [item_id, iso(now)]
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    @_locked
    def leased_reply_items(self, *, now: datetime) -> set[int]:
        """Items a send is posting for right now (their lease has not run out)."""
        rows = self.db.execute("SELECT DISTINCT item_id FROM replies WHERE posting_until > ?", [iso(now)])
        return {int(r[0]) for r in rows.fetchall()}

    @_locked
    def unsettled_replies(self, item_id: int) -> list[dict[str, Any]]:
        """The item's replies whose outcome is not known (`pending`: the send stopped
        before it learnt; `unknown`: it timed out): any of them may be on the platform."""
        return _dicts(
            self.db.execute(
                "SELECT key, text, status, error, updated_at FROM replies "
                "WHERE item_id = ? AND status IN ('pending', 'unknown') ORDER BY created_at, key",
                [item_id],
            )
        )

    @_locked
    def supersede_replies(self, item_id: int, *, keep: str, now: datetime, note: str) -> None:
        """Close the item's other unsettled replies once it is replied: `note` says by which."""
        self.db.execute(
            "UPDATE replies SET status = 'superseded', error = ?, updated_at = ? "
            "WHERE item_id = ? AND key != ? AND status IN ('pending', 'unknown')",
            [note[:500], iso(now), item_id, keep],
        )
