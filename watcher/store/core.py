"""SQLite through sqlite-utils: schema, migrations and every query the watcher runs.

All SQL lives in this module. One connection is shared by the scheduler's
threads behind a re-entrant lock; `transaction()` opens BEGIN IMMEDIATE so a
batch of posts, their queue items, outbox rows and the source cursor commit
together or not at all. WAL lets the CLI read while the service writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from connectors.base import Cursor
from watcher.post import Author, Metrics, Post, PostKind, RawJson, normalized_text, storable_text
from watcher.store.base import StoreError, _locked, from_iso, iso
from watcher.store.queue import (
    OPEN_STATES,
    QueueTables,
)
from watcher.store.schema import (
    QUARTER_SQL,
    Migrations,
)


@dataclass(frozen=True)
class StoredTriage:
    score: int
    priority: str
    needs_reply: bool
    sentiment: float
    sentiment_label: str
    lang: str
    intents: tuple[str, ...]
    reasons: tuple[str, ...]
    tags: tuple[str, ...] = ()
    channel: str = ""


class TriageColumns(Protocol):
    """What a post's triage columns are written from: a StoredTriage, or the triage
    engine's own result as is (ingest does not copy it field by field first)."""

    @property
    def score(self) -> int: ...
    @property
    def priority(self) -> str: ...
    @property
    def needs_reply(self) -> bool: ...
    @property
    def sentiment(self) -> float: ...
    @property
    def sentiment_label(self) -> str: ...
    @property
    def lang(self) -> str: ...
    @property
    def intents(self) -> tuple[str, ...]: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def channel(self) -> str: ...


# NewPost, NewItem, RecentPost: one or more per post on ingest, so slots rather than frozen
# (a frozen dataclass pays a setattr call per field); nothing changes one once made
@dataclass(slots=True)
class NewPost:
    post: Post
    triage: TriageColumns | None
    duplicate_of: str | None = None
    norm_text: str | None = None


@dataclass(slots=True)
class RecentPost:
    author_key: str
    key: str
    created_at: datetime
    norm_text: str
    duplicate_of: str | None


class Store(Migrations, QueueTables):
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

    # --- posts and authors --------------------------------------------------

    @_locked
    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key FROM posts WHERE key IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    @_locked
    def recent_by_authors(self, author_keys: Sequence[str], *, since: datetime) -> list[RecentPost]:
        """Customer posts by these authors since `since`: one query for a whole batch's
        de-duplication and history context."""
        found: list[RecentPost] = []
        keys = list(author_keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT author_key, key, created_at, norm_text, duplicate_of FROM posts "
                f"WHERE author_key IN ({','.join('?' * len(chunk))}) AND created_at >= ? AND is_own = 0",
                [*chunk, iso(since)],
            ).fetchall()
            found.extend(RecentPost(r[0], r[1], from_iso(r[2]), r[3] or "", r[4]) for r in rows)
        return found

    @_locked
    def open_items_by_author(self, author_keys: Sequence[str]) -> dict[str, int]:
        keys = list(author_keys)
        counts: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                # CROSS JOIN keeps posts (by the author index) as the outer loop: the other order
                # reads every open item of the queue for each batch
                f"SELECT p.author_key, COUNT(*) FROM posts p CROSS JOIN queue_items q ON q.post_key = p.key "
                f"WHERE p.author_key IN ({','.join('?' * len(chunk))}) "
                f"AND q.state IN ({','.join('?' * len(OPEN_STATES))}) GROUP BY p.author_key",
                [*chunk, *OPEN_STATES],
            ).fetchall()
            counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    @_locked
    def insert_post(
        self,
        post: Post,
        triage: TriageColumns | None,
        *,
        fetched_at: datetime,
        duplicate_of: str | None = None,
        norm_text: str | None = None,
    ) -> bool:
        """Insert one post (ignored if its key exists); True if it was new."""
        return bool(self.insert_posts([NewPost(post, triage, duplicate_of, norm_text)], fetched_at=fetched_at))

    @_locked
    def insert_posts(self, entries: Sequence[NewPost], *, fetched_at: datetime) -> set[str]:
        """Insert a batch of posts and upsert their authors in one transaction; posts
        whose key is already stored (another source fetched them) are skipped. Returns
        the keys actually inserted."""
        if not entries:
            return set()
        with self.transaction():
            mark = self._rowid_mark("posts")
            # with a mark, stored keys are skipped by ON CONFLICT and found after the insert
            known = self.existing_keys([e.post.key for e in entries]) if mark is None else set()
            fresh: list[NewPost] = []
            for entry in entries:
                if entry.post.key not in known:
                    known.add(entry.post.key)
                    fresh.append(entry)
            if not fresh:
                return set()
            fetched = iso(fetched_at)
            rows = [_post_values(e, fetched_at=fetched) for e in fresh]
            added = self.db.conn.executemany(_INSERT_POST, rows).rowcount
            if mark is None or added == len(fresh):  # the usual case: none was stored already
                inserted = {e.post.key for e in fresh}
            else:
                inserted = {r[0] for r in self.db.execute("SELECT key FROM posts WHERE rowid > ?", [mark])}
            self.db.conn.executemany(
                "INSERT INTO authors (key, platform, author_id, handle, display_name, followers, verified, "
                "first_seen, last_seen, post_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET handle = excluded.handle, display_name = excluded.display_name, "
                "followers = excluded.followers, verified = excluded.verified, "
                "last_seen = MAX(last_seen, excluded.last_seen), first_seen = MIN(first_seen, excluded.first_seen), "
                "post_count = post_count + excluded.post_count",
                _author_rows(fresh, rows, inserted),
            )
            return inserted

    @_locked
    def get_post(self, key: str) -> Post | None:
        row = self._post_rows("WHERE p.key = ?", [key])
        return row[0] if row else None

    @_locked
    def post_triage(self, key: str) -> StoredTriage | None:
        row = self.db.execute(
            "SELECT score, priority, needs_reply, sentiment, sentiment_label, lang, intents, reasons, "
            "tags, channel FROM posts WHERE key = ?",
            [key],
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return StoredTriage(
            score=row[0],
            priority=row[1],
            needs_reply=bool(row[2]),
            sentiment=row[3] or 0.0,
            sentiment_label=row[4] or "",
            lang=row[5] or "",
            intents=tuple(json.loads(row[6] or "[]")),
            reasons=tuple(json.loads(row[7] or "[]")),
            tags=tuple(json.loads(row[8] or "[]")),
            channel=row[9] or "",
        )

    @_locked
    def iter_posts(
        self, *, since: datetime | None = None, until: datetime | None = None, include_duplicates: bool = False
    ) -> list[Post]:
        clauses, params = [], []
        if since is not None:
            clauses.append("p.created_at >= ?")
            params.append(iso(since))
        if until is not None:
            clauses.append("p.created_at < ?")
            params.append(iso(until))
        if not include_duplicates:
            clauses.append("p.duplicate_of IS NULL")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._post_rows(where + " ORDER BY p.created_at", params)

    def _post_rows(self, tail: str, params: list[Any]) -> list[Post]:
        sql = (
            "SELECT p.platform, p.native_id, p.kind, p.text, p.created_at, p.url, p.lang, p.parent_id, "
            "p.conversation_id, p.parent_text, p.likes, p.reposts, p.replies, p.is_own, p.is_repost, "
            "p.source, p.raw, a.author_id, a.handle, a.display_name, a.followers, a.verified, p.author_key "
            "FROM posts p LEFT JOIN authors a ON a.key = p.author_key " + tail
        )
        posts = []
        for r in self.db.execute(sql, params).fetchall():
            author_id = r[17] if r[17] is not None else r[22].split(":", 1)[-1]
            posts.append(
                Post(
                    platform=r[0],
                    native_id=r[1],
                    kind=PostKind(r[2]),
                    text=r[3],
                    created_at=from_iso(r[4]),
                    url=r[5] or "",
                    lang=r[6],
                    parent_id=r[7],
                    conversation_id=r[8],
                    parent_text=r[9],
                    metrics=Metrics(likes=r[10] or 0, reposts=r[11] or 0, replies=r[12] or 0),
                    is_own=bool(r[13]),
                    is_repost=bool(r[14]),
                    source=r[15] or "",
                    raw=json.loads(r[16] or "{}"),
                    author=Author(
                        id=author_id,
                        handle=r[18] or "",
                        display_name=r[19] or "",
                        followers=r[20] or 0,
                        verified=bool(r[21]),
                    ),
                )
            )
        return posts

    @_locked
    def count_posts(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0])

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
            [kind, dedupe_key, channel, item_id, json.dumps(dict(payload)), iso(now), iso(now)],
        )
        return int(cur.lastrowid) if cur.rowcount == 1 and cur.lastrowid else None

    @_locked
    def due_outbox(self, *, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, kind, dedupe_key, channel, item_id, payload, attempts, ref FROM outbox "
            "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [iso(now), limit],
        ).fetchall()
        return [
            {
                "id": r[0],
                "kind": r[1],
                "dedupe_key": r[2],
                "channel": r[3],
                "item_id": r[4],
                "payload": json.loads(r[5]),
                "attempts": r[6],
                "ref": r[7],
            }
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
            "UPDATE outbox SET next_attempt_at = ?, last_error = ? WHERE id = ?",
            [iso(next_attempt_at), error[:500], outbox_id],
        )

    @_locked
    def mark_outbox_failed(self, outbox_id: int, *, error: str) -> None:
        self.db.execute("UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ?", [error[:500], outbox_id])

    @_locked
    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")}

    # --- source health and rate limits --------------------------------------

    @_locked
    def source_state(self, source: str) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT healthy, message, failures, backoff_until, rate_limits, last_success_at FROM source_state "
            "WHERE source = ?",
            [source],
        ).fetchone()
        if row is None:
            return {
                "healthy": True,
                "message": "",
                "failures": 0,
                "backoff_until": None,
                "rate_limits": {},
                "last_success_at": None,
            }
        return {
            "healthy": bool(row[0]),
            "message": row[1] or "",
            "failures": row[2] or 0,
            "backoff_until": from_iso(row[3]) if row[3] else None,
            "rate_limits": {k: from_iso(v) for k, v in json.loads(row[4] or "{}").items()},
            "last_success_at": from_iso(row[5]) if row[5] else None,
        }

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
        row = self.db.execute(
            "SELECT key, item_id, post_key, text, status, platform_reply_id, url, error, created_at, updated_at "
            "FROM replies WHERE key = ?",
            [key],
        ).fetchone()
        if row is None:
            return None
        names = [
            "key",
            "item_id",
            "post_key",
            "text",
            "status",
            "platform_reply_id",
            "url",
            "error",
            "created_at",
            "updated_at",
        ]
        return dict(zip(names, row, strict=True))

    @_locked
    def finish_reply(
        self, key: str, *, status: str, now: datetime, platform_reply_id: str = "", url: str = "", error: str = ""
    ) -> None:
        self.db.execute(
            "UPDATE replies SET status = ?, platform_reply_id = ?, url = ?, error = ?, updated_at = ? WHERE key = ?",
            [status, platform_reply_id, url, error[:500], iso(now), key],
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


TRIAGE_COLUMNS = (
    "score",
    "priority",
    "needs_reply",
    "sentiment",
    "sentiment_label",
    "lang",
    "intents",
    "reasons",
    "tags",
    "channel",
)


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


_JSON_STR = json.encoder.encode_basestring  # how _JSON writes a str (ensure_ascii=False)


def _json_list(values: tuple[str, ...]) -> str:
    """_JSON.encode(list(values)), spelled out for the usual all-text case (three per post)."""
    if not values:
        return "[]"
    try:
        if len(values) == 1:  # most intents and reasons: half the instructions of join(map(...))
            return f"[{_JSON_STR(values[0])}]"
        return f"[{', '.join(map(_JSON_STR, values))}]"
    except TypeError:  # not all text (_JSON_STR takes only str): the encoder writes it
        return _JSON.encode(list(values))


_POST_COLUMNS = (
    "key",
    "platform",
    "native_id",
    "source",
    "kind",
    "url",
    "text",
    "norm_text",
    "lang",
    "created_at",
    "fetched_at",
    "author_key",
    "parent_id",
    "conversation_id",
    "parent_text",
    "likes",
    "reposts",
    "replies",
    "is_own",
    "is_repost",
    "duplicate_of",
    *(c for c in TRIAGE_COLUMNS if c != "lang"),
    "raw",
)
# ON CONFLICT (not OR IGNORE): a stored key is skipped, a missing required field still fails
_INSERT_POST = (
    f"INSERT INTO posts ({', '.join(_POST_COLUMNS)}) VALUES ({', '.join('?' * len(_POST_COLUMNS))}) "
    "ON CONFLICT(key) DO NOTHING"
)
_CREATED_AT = _POST_COLUMNS.index("created_at")
_NO_TRIAGE = (None,) * (len(TRIAGE_COLUMNS) - 1)


def _post_values(entry: NewPost, *, fetched_at: str) -> tuple[Any, ...]:
    """A post's row for _INSERT_POST, in _POST_COLUMNS order (built once per post on ingest)."""
    post, triage = entry.post, entry.triage
    metrics = post.metrics
    triaged: tuple[Any, ...]
    if triage is None:  # the detected language replaces the platform's hint only when triaged
        lang, triaged = post.lang, _NO_TRIAGE
    else:
        lang = triage.lang
        triaged = (
            triage.score,
            triage.priority,
            int(triage.needs_reply),
            triage.sentiment,
            triage.sentiment_label,
            _json_list(triage.intents),
            _json_list(triage.reasons),
            _json_list(triage.tags),
            triage.channel,
        )
    return (
        post.key,
        post.platform,
        post.native_id,
        post.source,
        str(post.kind),  # a StrEnum's text, without Enum.value's Python-level property
        post.url,
        post.text,
        normalized_text(post.text) if entry.norm_text is None else entry.norm_text,
        lang,
        iso(post.created_at),
        fetched_at,
        post.author_key,
        post.parent_id,
        post.conversation_id,
        post.parent_text,
        metrics.likes,
        metrics.reposts,
        metrics.replies,
        int(post.is_own),
        int(post.is_repost),
        entry.duplicate_of,
        *triaged,
        _raw_text(post.raw),
    )


def _author_rows(fresh: Sequence[NewPost], rows: Sequence[tuple[Any, ...]], inserted: set[str]) -> list[list[Any]]:
    """One authors upsert row per author of the inserted posts, folding the author's posts
    in batch order: what one upsert per post leaves (the last post's profile, the earliest
    and latest post times, the count), in one statement per author instead of per post."""
    authors: dict[str, list[Any]] = {}
    for entry, row in zip(fresh, rows, strict=True):
        post = entry.post
        if post.key not in inserted:
            continue
        author, created = post.author, row[_CREATED_AT]
        folded = authors.get(post.author_key)
        if folded is None:
            authors[post.author_key] = [
                post.author_key,
                post.platform,
                author.id,
                author.handle,
                author.display_name,
                author.followers,
                int(author.verified),
                created,
                created,
                1,
            ]
            continue
        folded[3:7] = author.handle, author.display_name, author.followers, int(author.verified)
        if created < folded[7]:  # iso() text sorts as time, as MIN/MAX compare it in SQL
            folded[7] = created
        if created > folded[8]:
            folded[8] = created
        folded[9] += 1
    return list(authors.values())


def _raw_text(raw: Mapping[str, Any]) -> str:
    if isinstance(raw, RawJson):
        return raw.text  # already JSON (a replayed line): not encoded again
    text = _JSON.encode(raw if isinstance(raw, dict) else dict(raw))
    if storable_text(text) is not text:  # a lone surrogate SQLite refuses: \u-escaped, kept exactly
        return json.dumps(raw, default=str)
    return text
