"""Posts and their authors: the ingest write path (one executemany per batch) and
the reads that rebuild Post objects."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from watcher.core.post import Author, Metrics, Post, PostKind, RawJson, Review, normalized_text, storable_text
from watcher.store.base import Repository, _locked, _present, compact_json, from_iso, iso
from watcher.store.schema import OPEN_SQL, REASONS_SQL


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


@dataclass(frozen=True, slots=True)
class NewPost:
    post: Post
    triage: TriageColumns | None
    duplicate_of: str | None = None
    norm_text: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorProbe:
    """A new post's question to its author's stored history."""

    author_key: str
    created_at: datetime
    norm_text: str


@dataclass(frozen=True, slots=True)
class StoredHistory:
    """The answer: repeats in the window before the post, and the earliest stored post
    with the same words in the dedupe window (its time and key), if any."""

    repeats: int
    original: tuple[datetime, str] | None


_PROBE_CHUNK = 100  # six parameters a probe, well under SQLite's limit


class PostTables(Repository):
    """Posts and authors: the ingest write path and the reads that rebuild Post objects."""

    # --- posts and authors --------------------------------------------------

    @_locked
    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        return _present(self.db, "posts", "key", keys)

    @_locked
    def author_history(
        self, probes: Sequence[AuthorProbe], *, dedupe_window: timedelta, repeat_window: timedelta
    ) -> list[StoredHistory]:
        """What the stored customer posts (not own, not duplicates) say about each new
        post's author: how many they wrote in the repeat window before the post, and the
        earliest with the same words since the dedupe window before it. Index range
        reads per post, bounded by the windows, not by the author's history."""
        found: list[StoredHistory] = []
        for start in range(0, len(probes), _PROBE_CHUNK):
            chunk = probes[start : start + _PROBE_CHUNK]
            values = ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
            params: list[Any] = []
            for i, probe in enumerate(chunk):
                params += [
                    i,
                    probe.author_key,
                    iso(probe.created_at),
                    iso(probe.created_at - repeat_window),
                    iso(probe.created_at - dedupe_window),
                    norm_hash(probe.norm_text),
                ]
            cte = f"WITH probe (i, author, created, repeat_since, dedupe_since, norm) AS (VALUES {values}) "
            repeats = self.db.execute(
                cte + "SELECT (SELECT COUNT(*) FROM posts p WHERE p.author_key = probe.author "
                "AND p.created_at >= probe.repeat_since AND p.created_at < probe.created "
                "AND p.duplicate_of IS NULL AND p.is_own = 0) FROM probe ORDER BY i",
                params,
            ).fetchall()
            originals: dict[int, tuple[datetime, str]] = {}
            for i, created, key, text in self.db.execute(
                cte + "SELECT probe.i, p.created_at, p.key, p.text FROM probe JOIN posts p "
                "ON p.author_key = probe.author AND p.created_at >= probe.dedupe_since AND p.norm_hash = probe.norm "
                "AND p.duplicate_of IS NULL AND p.is_own = 0 WHERE probe.norm IS NOT NULL "
                "ORDER BY probe.i, p.created_at, p.rowid",
                params,
            ):
                if i not in originals and normalized_text(text) == chunk[i].norm_text:  # the hash's match, confirmed
                    originals[i] = (from_iso(created), key)  # each probe's first row: its earliest match
            found.extend(StoredHistory(row[0], originals.get(i)) for i, row in enumerate(repeats))
        return found

    @_locked
    def open_items_by_author(self, author_keys: Sequence[str]) -> dict[str, int]:
        """Open queue items per author, from the counter the schema's triggers keep."""
        keys = list(author_keys)
        counts: dict[str, int] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, open_items FROM authors WHERE key IN ({','.join('?' * len(chunk))}) AND open_items > 0",
                chunk,
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
            known = self.existing_keys([e.post.key for e in entries])
            fresh: list[NewPost] = []
            for entry in entries:  # the first of a key in a batch wins
                if entry.post.key not in known:
                    known.add(entry.post.key)
                    fresh.append(entry)
            fetched, reason_ids = iso(fetched_at), self._reason_ids(fresh)
            self.db.conn.executemany(
                _INSERT_POST, [_post_row(e, fetched_at=fetched, reason_ids=reason_ids) for e in fresh]
            )
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO post_raw (created_at, post_key, raw) VALUES (?, ?, ?)",
                [(iso(e.post.created_at), e.post.key, _raw_blob(e.post.raw)) for e in fresh if e.post.raw],
            )
            self.db.conn.executemany(_UPSERT_AUTHOR, [_author_row(e.post) for e in fresh])
            return {e.post.key for e in fresh}

    def _reason_ids(self, entries: Sequence[NewPost]) -> dict[str, int]:
        """The reason_texts id of every reason the entries give, adding the new ones."""
        texts = list(dict.fromkeys(r for e in entries if e.triage is not None for r in e.triage.reasons))
        self.db.conn.executemany("INSERT OR IGNORE INTO reason_texts (text) VALUES (?)", [(t,) for t in texts])
        ids: dict[str, int] = {}
        for start in range(0, len(texts), 500):
            chunk = texts[start : start + 500]
            marks = ",".join("?" * len(chunk))
            ids.update(self.db.execute(f"SELECT text, id FROM reason_texts WHERE text IN ({marks})", chunk).fetchall())
        return ids

    @_locked
    def get_post(self, key: str) -> Post | None:
        row = self._post_rows("WHERE p.key = ?", [key])
        return row[0] if row else None

    @_locked
    def post_triage(self, key: str) -> StoredTriage | None:
        row = self.db.execute(
            f"SELECT score, priority, needs_reply, sentiment, sentiment_label, lang, intents, "
            f"{REASONS_SQL.format(column='reasons')}, tags, channel FROM posts WHERE key = ?",
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

    def post_pages(self, *, since: datetime, page_size: int = 1000) -> Iterator[list[Post]]:
        """Posts since `since` (not duplicates) in time order, a page at a time, without
        their raw payloads: a long replay holds one page, not the window."""
        after: tuple[str, int] = (iso(since), 0)  # (created_at, rowid) of the last row read
        while rows := self._page_after(after, page_size):
            yield [_row_post(r) for r in rows]
            after = (rows[-1][4], rows[-1][24])

    @_locked
    def _page_after(self, after: tuple[str, int], size: int) -> list[Any]:
        # keyset paging along idx_posts_created_at (its entries end with the rowid)
        return self.db.execute(
            _POST_SELECT.format(raw="NULL")
            + " WHERE (p.created_at, p.rowid) > (?, ?) AND p.duplicate_of IS NULL ORDER BY p.created_at, p.rowid LIMIT ?",
            [*after, size],
        ).fetchall()

    def _post_rows(self, tail: str, params: list[Any]) -> list[Post]:
        return [_row_post(r) for r in self.db.execute(_POST_SELECT.format(raw=_RAW_OF) + " " + tail, params)]

    def prune_raw(self, before: datetime, *, batch: int = 500) -> int:
        """Delete the raw payloads of posts created before `before`, oldest first, a page of
        `batch` per transaction (ingest waits for one page, not the whole run). A post whose
        queue item is still open keeps its payload: replying reads it (Mastodon's visibility,
        YouTube's video); the walk goes on past it. Returns how many payloads went."""
        dropped, after = 0, ("", "")
        while True:
            with self.transaction():
                page = self.db.execute(_RAW_PAGE, [*after, iso(before), batch]).fetchall()
                if page:
                    dropped += self.db.execute(_PRUNE_RAW, [*page[0], *page[-1]]).rowcount
            if len(page) < batch:
                return dropped
            after = page[-1]

    @_locked
    def count_posts(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0])

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


# pruning walks post_raw in its primary key's order (the post's time), a page at a time ...
_RAW_PAGE = (
    "SELECT created_at, post_key FROM post_raw WHERE (created_at, post_key) > (?, ?) AND created_at < ? "
    "ORDER BY created_at, post_key LIMIT ?"
)
# ... and deletes the page's payloads but those of posts with an open item
_PRUNE_RAW = (
    "DELETE FROM post_raw WHERE (created_at, post_key) BETWEEN (?, ?) AND (?, ?) AND NOT EXISTS "
    f"(SELECT 1 FROM queue_items q WHERE q.post_key = post_raw.post_key AND q.state IN ({OPEN_SQL}))"
)
# a post's payload, if still kept (a primary-key look-up)
_RAW_OF = "(SELECT r.raw FROM post_raw r WHERE r.created_at = p.created_at AND r.post_key = p.key)"

_POST_SELECT = (
    "SELECT p.platform, p.native_id, p.kind, p.text, p.created_at, p.url, p.lang, p.parent_id, "
    "p.conversation_id, p.parent_text, p.likes, p.reposts, p.replies, p.is_own, p.is_repost, "
    "p.source, {raw}, a.author_id, a.handle, a.display_name, a.followers, a.verified, p.author_key, p.review, "
    "p.rowid "
    "FROM posts p LEFT JOIN authors a ON a.key = p.author_key"
)


def _row_post(r: Sequence[Any]) -> Post:
    """A _POST_SELECT row -> Post."""
    author_id = r[17] if r[17] is not None else r[22].split(":", 1)[-1]
    return Post(
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
        raw=_raw_payload(r[16]),
        author=Author(
            id=author_id,
            handle=r[18] or "",
            display_name=r[19] or "",
            followers=r[20] or 0,
            verified=bool(r[21]),
        ),
        review=Review.from_json(json.loads(r[23])) if r[23] else None,
    )


TRIAGE_COLUMNS = tuple(f.name for f in fields(StoredTriage))  # the posts columns a triage fills, in order


_POST_COLUMNS = (
    "key",
    "platform",
    "native_id",
    "source",
    "kind",
    "url",
    "text",
    "norm_hash",
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
    "rating",
    "review",
)
_INSERT_POST = f"INSERT INTO posts ({', '.join(_POST_COLUMNS)}) VALUES ({', '.join(':' + c for c in _POST_COLUMNS)})"
# one upsert per post, in batch order: the author keeps the last post's profile, the
# earliest and latest post times (iso() text sorts as time) and the count
_UPSERT_AUTHOR = (
    "INSERT INTO authors (key, platform, author_id, handle, display_name, followers, verified, "
    "first_seen, last_seen, post_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
    "ON CONFLICT(key) DO UPDATE SET handle = excluded.handle, display_name = excluded.display_name, "
    "followers = excluded.followers, verified = excluded.verified, "
    "last_seen = MAX(last_seen, excluded.last_seen), first_seen = MIN(first_seen, excluded.first_seen), "
    "post_count = post_count + 1"
)


def _post_row(entry: NewPost, *, fetched_at: str, reason_ids: Mapping[str, int]) -> dict[str, Any]:
    """A post's row for _INSERT_POST."""
    post, triage = entry.post, entry.triage
    row: dict[str, Any] = {
        "key": post.key,
        "platform": post.platform,
        "native_id": post.native_id,
        "source": post.source,
        "kind": post.kind.value,
        "url": post.url,
        "text": post.text,
        "norm_hash": norm_hash(normalized_text(post.text) if entry.norm_text is None else entry.norm_text),
        "created_at": iso(post.created_at),
        "fetched_at": fetched_at,
        "author_key": post.author_key,
        "parent_id": post.parent_id,
        "conversation_id": post.conversation_id,
        "parent_text": post.parent_text,
        "likes": post.metrics.likes,
        "reposts": post.metrics.reposts,
        "replies": post.metrics.replies,
        "is_own": int(post.is_own),
        "is_repost": int(post.is_repost),
        "duplicate_of": entry.duplicate_of,
        # the rating in a column of its own for the digest's figures; the whole review as JSON
        "rating": post.review.rating if post.review else None,
        "review": compact_json(post.review.to_json()) if post.review else None,
    }
    if triage is None:  # the detected language replaces the platform's hint only when triaged
        row.update(dict.fromkeys(TRIAGE_COLUMNS), lang=post.lang)
    else:
        row.update(
            score=triage.score,
            priority=triage.priority,
            needs_reply=int(triage.needs_reply),
            sentiment=triage.sentiment,
            sentiment_label=triage.sentiment_label,
            lang=triage.lang,
            intents=compact_json(list(triage.intents)),
            reasons=compact_json([reason_ids[r] for r in triage.reasons]),
            tags=compact_json(list(triage.tags)),
            channel=triage.channel,
        )
    return row


def _author_row(post: Post) -> tuple[Any, ...]:
    author, created = post.author, iso(post.created_at)
    return (
        post.author_key,
        post.platform,
        author.id,
        author.handle,
        author.display_name,
        author.followers,
        int(author.verified),
        created,
        created,
    )


def norm_hash(norm: str) -> int | None:
    """A post's normalized words as a 64-bit number: de-duplication looks them up by it
    (and confirms on the text), so the row does not keep a second copy of the text."""
    if not norm:
        return None
    return int.from_bytes(
        hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True
    )


def _raw_blob(raw: Mapping[str, Any]) -> bytes:
    """The payload as zlib-compressed JSON: a platform payload is most of a post's row,
    and compressed it takes about 60% of the space."""
    if isinstance(raw, RawJson):
        text = raw.text  # already JSON (a replayed line): not encoded again
    else:
        text = json.dumps(dict(raw), ensure_ascii=False, default=str)
        if storable_text(text) != text:  # a lone surrogate: \u-escaped, kept exactly
            text = json.dumps(dict(raw), default=str)
    return zlib.compress(text.encode("utf-8", "surrogatepass"))


def _raw_payload(stored: bytes | str | None) -> dict[str, Any]:
    if stored is None:
        return {}
    text = zlib.decompress(stored).decode("utf-8", "surrogatepass") if isinstance(stored, bytes) else stored
    payload: dict[str, Any] = json.loads(text or "{}")
    return payload
