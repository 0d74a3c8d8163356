"""Where each item's Slack messages live, and the reads Slack cards are drawn from."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from watcher.post import Post
from watcher.store.base import StoreBase, _locked, iso


class SlackTables(StoreBase):
    """Slack message refs (cards are updated in place, never posted twice) and what a card shows."""

    if TYPE_CHECKING:  # PostTables' reader of post rows (Store has both): declared for mypy

        def _post_rows(self, tail: str, params: list[Any]) -> list[Post]: ...

    # --- slack ---

    @_locked
    def slack_message(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT key, item_id, kind, channel, ts, thread_ts, bucket, created_at FROM slack_messages WHERE key = ?",
            [key],
        ).fetchone()
        if row is None:
            return None
        names = ["key", "item_id", "kind", "channel", "ts", "thread_ts", "bucket", "created_at"]
        return dict(zip(names, row, strict=True))

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
    def conversation_posts(self, post: Post, *, limit: int = 5) -> list[Post]:
        """The stored posts this one answers: its parent, then earlier posts of its
        conversation (oldest first), for the context under a card."""
        ids = [i for i in (post.parent_id, post.conversation_id) if i]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return self._post_rows(
            f"WHERE p.platform = ? AND p.key != ? AND p.created_at <= ? AND "
            f"(p.native_id IN ({marks}) OR p.conversation_id IN ({marks})) ORDER BY p.created_at DESC LIMIT ?",
            [post.platform, post.key, iso(post.created_at), *ids, *ids, limit],
        )[::-1]

    @_locked
    def outbox_row(self, outbox_id: int) -> dict[str, Any] | None:
        """Status and ref of one outbox row, read fresh (has another flush delivered it?)."""
        row = self.db.execute("SELECT status, ref, attempts FROM outbox WHERE id = ?", [outbox_id]).fetchone()
        return {"status": row[0], "ref": row[1], "attempts": row[2]} if row else None

    @_locked
    def lease_outbox(self, outbox_id: int, *, now: datetime, until: datetime) -> bool:
        """Take a due, pending row for delivery until `until`; False when another
        process or thread took it first. A crash mid-delivery frees it at `until`. Taking
        it counts as an attempt, recorded before the send (crash forensics)."""
        cur = self.db.execute(
            "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 "
            "WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
            [iso(until), outbox_id, iso(now)],
        )
        return cur.rowcount == 1

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
    def set_sla_due(self, item_id: int, due: datetime) -> None:
        """Derived from config, so no version bump: it never races a moderator's click."""
        self.db.execute("UPDATE queue_items SET sla_due_at = ? WHERE id = ?", [iso(due), item_id])

    @_locked
    def customer_history(self, post_key: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """Earlier posts by this author, on any platform where the same handle posted,
        with how each was handled and by whom (newest first)."""
        me = self.db.execute(
            "SELECT p.author_key, p.created_at, LOWER(COALESCE(a.handle, '')) FROM posts p "
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
            found = self.db.execute("SELECT key FROM authors WHERE LOWER(handle) = ?", [handle]).fetchall()
            authors.update(row[0] for row in found)
        marks = ", ".join("?" * len(authors))
        rows = self.db.execute(
            "SELECT p.key, p.platform, p.text, p.created_at, p.url, q.id, q.state, q.assignee, q.drafted_by, "
            "q.approved_by, q.reply_url, q.dismiss_reason FROM posts p "
            "LEFT JOIN queue_items q ON q.post_key = p.key "
            f"WHERE p.author_key IN ({marks}) AND p.key != ? AND p.created_at <= ? AND p.duplicate_of IS NULL "
            "AND p.is_own = 0 ORDER BY p.created_at DESC LIMIT ?",
            [*sorted(authors), post_key, created_at, limit],
        ).fetchall()
        names = [
            "post_key",
            "platform",
            "text",
            "created_at",
            "url",
            "item_id",
            "state",
            "assignee",
            "drafted_by",
            "approved_by",
            "reply_url",
            "dismiss_reason",
        ]
        return [dict(zip(names, r, strict=True)) for r in rows]
