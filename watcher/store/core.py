"""SQLite through sqlite-utils: schema, migrations and every query the watcher runs.

All SQL lives in this module. One connection is shared by the scheduler's
threads behind a re-entrant lock; `transaction()` opens BEGIN IMMEDIATE so a
batch of posts, their queue items, outbox rows and the source cursor commit
together or not at all. WAL lets the CLI read while the service writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from connectors.base import Cursor
from watcher.post import Post
from watcher.store.base import StoreError, _locked, iso
from watcher.store.delivery import DeliveryTables
from watcher.store.posts import (
    PostTables,
)
from watcher.store.queue import (
    QueueTables,
)
from watcher.store.schema import (
    QUARTER_SQL,
    Migrations,
)
from watcher.store.sources import SourceTables


class Store(Migrations, PostTables, QueueTables, DeliveryTables, SourceTables):
    """The watcher's database. Safe to share across the scheduler's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}; check storage.path") from None
        self._lock = threading.RLock()
        self._item_columns: frozenset[str] | None = None
        self.db = sqlite_utils.Database(conn)
        try:
            if self.path != ":memory:":
                self.db.enable_wal()
            conn.execute("PRAGMA busy_timeout = 30000")
            # WAL + NORMAL: a crash never corrupts or splits a transaction (posts and
            # their cursor stay together); only fsyncs at checkpoints are saved
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{self.path} is not a usable watcher database ({exc}); point storage.path elsewhere"
            ) from None

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # --- digest ---------------------------------------------------------------
    # Aggregates for watcher/digest.py and watcher/spikes.py. "Counted" posts are
    # mentions: not the brand's own posts and not collapsed duplicates (the
    # condition of the posts_digest partial index: keep it in the WHERE clauses).

    _QUARTER = QUARTER_SQL.replace("created_at", "p.created_at")
    _COUNTED = "p.duplicate_of IS NULL AND p.is_own = 0 AND p.created_at >= ? AND p.created_at < ?"
    _IN_QUARTERS = f"{_QUARTER} >= ? AND {_QUARTER} <= ? AND {_COUNTED}"

    @staticmethod
    def _quarter_params(since: datetime, until: datetime) -> list[str]:
        """Seek bounds on the quarter column (inclusive), then the exact instants."""

        def quarter(moment: datetime) -> str:
            text = iso(moment)
            return f"{text[:14]}{int(text[14:16]) // 15}"

        return [quarter(since), quarter(until - timedelta(microseconds=1)), iso(since), iso(until)]

    @_locked
    def digest_counts(self, *, since: datetime, until: datetime) -> list[tuple[str, str, str, str, str, str, int]]:
        """(UTC quarter 'YYYY-MM-DDTHH:q', sentiment label, platform, source, language,
        intents JSON, posts) for counted posts in [since, until). Streams in index order:
        no sort, no table access, so 1M posts take about a second."""
        if until <= since:
            return []
        rows = self.db.execute(
            f"SELECT {self._QUARTER}, p.sentiment_label, p.platform, p.source, p.lang, p.intents, COUNT(*) "
            f"FROM posts p INDEXED BY posts_digest WHERE {self._IN_QUARTERS} GROUP BY 1, 2, 3, 4, 5, 6",
            self._quarter_params(since, until),
        ).fetchall()
        return [(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5] or "", int(r[6])) for r in rows]

    _DIGEST_POST_COLUMNS = (
        "p.key, p.platform, p.source, p.url, p.text, p.norm_text, p.lang, p.created_at, p.sentiment_label, "
        "p.likes, p.reposts, p.replies, COALESCE(a.followers, 0), COALESCE(a.handle, '')"
    )
    _DIGEST_POST_NAMES = (
        "key",
        "platform",
        "source",
        "url",
        "text",
        "norm_text",
        "lang",
        "created_at",
        "sentiment_label",
        "likes",
        "reposts",
        "replies",
        "followers",
        "handle",
    )

    def _digest_posts(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for r in self.db.execute(sql, params).fetchall():
            row = dict(zip(self._DIGEST_POST_NAMES, r, strict=True))
            for name in ("likes", "reposts", "replies", "followers"):
                row[name] = int(row[name] or 0)
            row["lang"] = row["lang"] or ""
            row["reach"] = row["followers"] + row["likes"] + row["reposts"] + row["replies"]
            rows.append(row)
        return rows

    @_locked
    def digest_top_posts(
        self, *, since: datetime, until: datetime, limit: int, sentiment_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Counted posts with the largest reach: author followers + likes + reposts + replies.

        Exact, without joining every post in the window to its author: the top posts by
        engagement and the window's posts by the most-followed authors give a floor T
        for the answer; a post can only reach T if its author has at least T - (the
        window's largest engagement) followers, so only those authors' posts (few,
        followers being heavy-tailed) are ranked with them. Falls back to ranking
        every post when that bound prunes nothing."""
        label = "AND p.sentiment_label = ?" if sentiment_label else ""
        params: list[Any] = [iso(since), iso(until), *([sentiment_label] if sentiment_label else [])]
        order = "ORDER BY COALESCE(a.followers, 0) + p.likes + p.reposts + p.replies DESC, p.created_at, p.key"
        by_engagement = self.db.execute(
            f"SELECT p.key, p.likes + p.reposts + p.replies FROM posts p WHERE {self._COUNTED} {label} "
            "ORDER BY 2 DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        if not by_engagement:
            return []
        keys = [r[0] for r in by_engagement]
        # the window's posts by the most-followed authors raise the floor
        for offset in range(0, 1000, 200):
            authors = [
                r[0]
                for r in self.db.execute(
                    "SELECT key FROM authors ORDER BY followers DESC LIMIT 200 OFFSET ?", [offset]
                ).fetchall()
            ]
            if not authors:
                break
            keys.extend(
                r[0]
                for r in self.db.execute(
                    f"SELECT p.key FROM posts p WHERE p.author_key IN ({','.join('?' * len(authors))}) "
                    f"AND {self._COUNTED} {label}",
                    [*authors, *params],
                )
            )
            if len(keys) >= 2 * limit:
                break
        candidates = self._digest_posts(
            f"SELECT {self._DIGEST_POST_COLUMNS} FROM posts p LEFT JOIN authors a ON a.key = p.author_key "
            f"WHERE p.key IN ({','.join('?' * len(keys))}) {order}",
            keys,
        )
        floor = candidates[limit - 1]["reach"] if len(candidates) >= limit else 0
        min_followers = floor - int(by_engagement[0][1] or 0)
        if min_followers <= 0:
            return self._digest_posts(
                f"SELECT {self._DIGEST_POST_COLUMNS} FROM posts p LEFT JOIN authors a ON a.key = p.author_key "
                f"WHERE {self._COUNTED} {label} {order} LIMIT ?",
                [*params, limit],
            )
        followed = self._digest_posts(
            f"SELECT {self._DIGEST_POST_COLUMNS} FROM authors a CROSS JOIN posts p ON p.author_key = a.key "
            f"WHERE a.followers >= ? AND {self._COUNTED} {label} "
            "AND a.followers + p.likes + p.reposts + p.replies >= ?",
            [min_followers, *params, floor],
        )
        unique = {row["key"]: row for row in [*candidates, *followed]}
        ranked = sorted(unique.values(), key=lambda row: (-row["reach"], row["created_at"], row["key"]))
        return ranked[:limit]

    @_locked
    def digest_negative_sample(
        self, *, since: datetime, until: datetime, languages: Mapping[str, int], per_language: int
    ) -> list[dict[str, Any]]:
        """Negative counted posts for theme finding. `languages` maps each language to
        its negative posts in the window (from digest_counts); a language with more than
        `per_language` is sampled evenly by insertion order (every k-th row); languages not
        in `languages` are left out."""
        if not languages:
            return []
        steps = {lang: max(1, -(-int(count) // per_language)) for lang, count in languages.items()}
        cases = " ".join("WHEN ? THEN ?" for _ in steps)
        rows = self._digest_posts(
            f"SELECT {self._DIGEST_POST_COLUMNS} FROM posts p INDEXED BY posts_digest "
            "LEFT JOIN authors a ON a.key = p.author_key "
            f"WHERE {self._IN_QUARTERS} AND p.sentiment_label = 'negative' "
            f"AND p.rowid % (CASE COALESCE(p.lang, '') {cases} ELSE NULL END) = 0 ORDER BY p.created_at, p.key",
            [*self._quarter_params(since, until), *[v for pair in steps.items() for v in pair]],
        )
        taken: dict[str, int] = {}
        sample = []
        for row in rows:
            if taken.get(row["lang"], 0) < per_language:
                taken[row["lang"]] = taken.get(row["lang"], 0) + 1
                sample.append(row)
        return sample

    @_locked
    def digest_response_rows(self, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Queue items of the posts created in [since, until): one row each with the
        seconds from the post to the first public response (None if none yet).

        The agent is the item's assignee, else whoever closed it (replied, dismissed)."""
        sql = (
            "SELECT q.id, q.priority, q.state, q.escalated, q.dismiss_reason, p.created_at, q.first_response_at, "
            "ROUND((julianday(q.first_response_at) - julianday(p.created_at)) * 86400.0, 3), "
            "COALESCE(q.assignee, (SELECT e.actor FROM events e WHERE e.item_id = q.id "
            "AND e.action IN ('replied', 'dismiss', 'answered_elsewhere') ORDER BY e.id DESC LIMIT 1)) "
            "FROM queue_items q INDEXED BY queue_items_created JOIN posts p ON p.key = q.post_key "
            "WHERE q.created_at >= ? AND p.created_at >= ? AND p.created_at < ?"
        )
        names = (
            "id",
            "priority",
            "state",
            "escalated",
            "dismiss_reason",
            "post_created_at",
            "first_response_at",
            "response_seconds",
            "agent",
        )
        # an item is created when its post is stored, after the post was written; a day's
        # margin covers platform clocks ahead of ours, and the index skips older items
        params = [iso(since - timedelta(days=1)), iso(since), iso(until)]
        rows = []
        for r in self.db.execute(sql, params).fetchall():
            row = dict(zip(names, r, strict=True))
            row["escalated"] = bool(row["escalated"])
            row["agent"] = row["agent"] or ""
            rows.append(row)
        return rows

    @_locked
    def claim_digest_run(self, key: str, *, now: datetime) -> bool:
        """Record that a scheduled digest is being posted; False if it already was
        (a restarted scheduler firing the same run twice)."""
        cur = self.db.execute("INSERT OR IGNORE INTO digest_runs (key, started_at) VALUES (?, ?)", [key, iso(now)])
        return cur.rowcount == 1

    @_locked
    def finish_digest_run(self, key: str, *, ref: str | None) -> None:
        """Keep the run with its Slack reference, or forget it (ref None) so it can be retried."""
        if ref is None:
            self.db.execute("DELETE FROM digest_runs WHERE key = ?", [key])
        else:
            self.db.execute("UPDATE digest_runs SET ref = ? WHERE key = ?", [ref, key])
