"""Where each item's Slack messages live, and the reads Slack cards are drawn from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from watcher.store.base import Repository, _dicts, _locked, iso

# an author's handle names one account only where it is a handle: Facebook shows people's
# names (two Ana Pops are two people), and a commenter the platform hides is "Facebook user"
# or "Instagram user" with an id of "unknown:<item>" (connectors.meta.mapping)
NAME_PLATFORMS = ("facebook",)
_A_HANDLE = (
    f"a.handle IS NOT NULL AND a.platform NOT IN ({', '.join(repr(p) for p in NAME_PLATFORMS)}) "
    "AND a.author_id NOT LIKE 'unknown:%'"
)


class SlackTables(Repository):
    """Slack message refs (cards are updated in place, never posted twice) and what a card shows."""

    # --- slack ---

    @_locked
    def slack_message(self, key: str) -> dict[str, Any] | None:
        rows = _dicts(
            self.db.execute(
                "SELECT key, item_id, kind, channel, ts, thread_ts, bucket, created_at FROM slack_messages WHERE key = ?",
                [key],
            )
        )
        return rows[0] if rows else None

    @_locked
    def save_slack_message(
        self,
        key: str,
        *,
        item_id: int | None,
        kind: str,
        channel: str,
        ts: str,
        now: datetime,
        thread_ts: str = "",
        bucket: str = "",
    ) -> None:
        self.db.execute(
            "INSERT INTO slack_messages (key, item_id, kind, channel, ts, thread_ts, bucket, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, "
            "channel = excluded.channel, ts = excluded.ts, thread_ts = excluded.thread_ts, "
            "bucket = excluded.bucket, updated_at = excluded.updated_at",
            [key, item_id, kind, channel, ts, thread_ts, bucket, iso(now), iso(now)],
        )

    @_locked
    def touch_slack_message(self, key: str, *, now: datetime) -> None:
        """Record that a message was redrawn now (see `slack_stale_cards`)."""
        self.db.execute("UPDATE slack_messages SET updated_at = ? WHERE key = ?", [iso(now), key])

    @_locked
    def count_slack_messages(self, channel: str, kind: str, *, since: datetime) -> int:
        """Messages of `kind` posted to `channel` (its id, or the name it was addressed by) since `since`."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM slack_messages WHERE (channel = ? OR bucket = ?) AND kind = ? AND created_at >= ?",
                [channel, channel, kind, iso(since)],
            ).fetchone()[0]
        )

    @_locked
    def slack_bucket_items(self, bucket: str) -> list[int]:
        rows = self.db.execute(
            "SELECT item_id FROM slack_messages WHERE bucket = ? AND kind = 'overflowed' ORDER BY created_at, item_id",
            [bucket],
        ).fetchall()
        return [int(r[0]) for r in rows]

    @_locked
    def slack_stale_cards(self, *, limit: int = 200) -> list[int]:
        """Items changed since their card was last drawn (a repeat collapsed into them,
        a transition made from the CLI): their cards need a redraw."""
        rows = self.db.execute(
            "SELECT q.id FROM queue_items q JOIN slack_messages m ON m.key = 'card:' || q.id "
            "WHERE m.kind = 'card' AND q.updated_at > m.updated_at ORDER BY q.updated_at LIMIT ?",
            [limit],
        ).fetchall()
        return [int(r[0]) for r in rows]

    @_locked
    def customer_history(self, post_key: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """Earlier posts by this author, on any platform where the same handle posted,
        with how each was handled and by whom (newest first)."""
        me = self.db.execute(
            f"SELECT p.author_key, p.created_at, CASE WHEN {_A_HANDLE} THEN LOWER(a.handle) ELSE '' END FROM posts p "
            "LEFT JOIN authors a ON a.key = p.author_key WHERE p.key = ?",
            [post_key],
        ).fetchone()
        if me is None:
            return []
        author_key, created_at, handle = me
        # the author's accounts first (few rows), then their posts through the posts'
        # author index: an OR on the joined handle made SQLite walk every earlier post
        authors = {author_key}
        if handle:
            found = self.db.execute(f"SELECT key FROM authors a WHERE LOWER(handle) = ? AND {_A_HANDLE}", [handle])
            authors.update(row[0] for row in found.fetchall())
        marks = ", ".join("?" * len(authors))
        cursor = self.db.execute(
            "SELECT p.key AS post_key, p.platform, p.text, p.created_at, p.url, q.id AS item_id, q.state, q.assignee, "
            "q.drafted_by, q.approved_by, q.reply_url, q.dismiss_reason FROM posts p "
            "LEFT JOIN queue_items q ON q.post_key = p.key "
            f"WHERE p.author_key IN ({marks}) AND p.key != ? AND p.created_at <= ? AND p.duplicate_of IS NULL "
            "AND p.is_own = 0 ORDER BY p.created_at DESC LIMIT ?",
            [*sorted(authors), post_key, created_at, limit],
        )
        return _dicts(cursor)

    # --- periodic jobs ---

    @_locked
    def claim_job_run(self, name: str, *, now: datetime, every: timedelta) -> bool:
        """True (and `now` recorded as its last run) when job `name` last ran `every` or more
        ago, or never: one run per interval across restarts and processes."""
        with self.transaction():
            row = self.db.execute("SELECT last_run_at FROM job_runs WHERE name = ?", [name]).fetchone()
            if row is not None and row[0] > iso(now - every):
                return False
            self.db.execute(
                "INSERT INTO job_runs (name, last_run_at) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at",
                [name, iso(now)],
            )
            return True
