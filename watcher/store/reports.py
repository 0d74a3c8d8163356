"""Digest and spike aggregates: counts by quarter hour, top posts, samples, response times."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from watcher.store.base import Repository, _dicts, _locked, from_iso, iso
from watcher.store.schema import QUARTER_SQL


class ReviewRow(NamedTuple):
    """One counted review of a digest window."""

    platform: str
    app_version: str  # "" when the platform does not say
    rating: int
    answered: bool  # the brand answered it: from the queue, or natively on the platform


class DigestQueries(Repository):
    """Aggregates for digests and spikes, shaped to the posts_digest index (see schema.py)."""

    # --- digest ---------------------------------------------------------------
    # Aggregates for watcher/digest/ (figures, spikes). "Counted" posts are
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
        "p.key, p.platform, p.source, p.url, p.text, p.lang, p.created_at, p.sentiment_label, "
        "p.likes, p.reposts, p.replies, COALESCE(a.followers, 0) AS followers, COALESCE(a.handle, '') AS handle"
    )

    def _digest_posts(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for row in _dicts(self.db.execute(sql, params)):
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
            "SELECT q.id, q.priority, q.state, q.escalated, q.dismiss_reason, p.created_at AS post_created_at, "
            "q.first_response_at, "
            "ROUND((julianday(q.first_response_at) - julianday(p.created_at)) * 86400.0, 3) AS response_seconds, "
            "COALESCE(q.assignee, (SELECT e.actor FROM events e WHERE e.item_id = q.id "
            "AND e.action IN ('replied', 'dismiss', 'answered_elsewhere') ORDER BY e.id DESC LIMIT 1)) AS agent "
            "FROM queue_items q INDEXED BY queue_items_created JOIN posts p ON p.key = q.post_key "
            "WHERE q.created_at >= ? AND p.created_at >= ? AND p.created_at < ?"
        )
        # an item is created when its post is stored, after the post was written; a day's
        # margin covers platform clocks ahead of ours, and the index skips older items
        params = [iso(since - timedelta(days=1)), iso(since), iso(until)]
        rows = []
        for row in _dicts(self.db.execute(sql, params)):
            row["escalated"] = bool(row["escalated"])
            row["agent"] = row["agent"] or ""
            rows.append(row)
        return rows

    @_locked
    def digest_review_rows(self, *, since: datetime, until: datetime) -> list[ReviewRow]:
        """The reviews written in [since, until) (each version of an edited one), with
        whether the brand has answered them."""
        sql = (
            "SELECT p.platform, COALESCE(json_extract(p.review, '$.app_version'), ''), p.rating, "
            "EXISTS (SELECT 1 FROM queue_items q WHERE q.post_key = p.key AND q.first_response_at IS NOT NULL) "
            "OR COALESCE(json_extract(p.review, '$.answer'), '') != '' "
            f"FROM posts p WHERE p.rating IS NOT NULL AND {self._COUNTED}"
        )
        rows = self.db.execute(sql, [iso(since), iso(until)]).fetchall()
        return [ReviewRow(r[0], r[1], int(r[2]), bool(r[3])) for r in rows]

    # --- digest runs -------------------------------------------------------------
    # One row per scheduled digest period (key digest:<schedule>:<period>:<local start date>):
    # claimed (being posted), posted (ref = the Slack ts) or failed (retry_at, last_error).
    # A claim belongs to its attempt number: only that attempt may post or finish it.

    @_locked
    def digest_schedule_since(self, name: str, *, now: datetime) -> datetime:
        """When the schedule was first seen (now, the first time it is asked): periods that
        fell due before it existed are not caught up."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO digest_schedules (name, first_seen) VALUES (?, ?)", [name, iso(now)])
            row = self.db.execute("SELECT first_seen FROM digest_schedules WHERE name = ?", [name]).fetchone()
        return from_iso(str(row[0]))

    @_locked
    def forget_digest_schedules(self, *, keep: Sequence[str]) -> None:
        """Forget when the schedules not in `keep` (switched off or removed) were first seen:
        one switched on again starts afresh instead of posting the periods it was off for."""
        self.db.execute(f"DELETE FROM digest_schedules WHERE name NOT IN ({','.join('?' * len(keep))})", list(keep))

    @_locked
    def digest_run(self, key: str) -> dict[str, Any] | None:
        rows = _dicts(self.db.execute("SELECT * FROM digest_runs WHERE key = ?", [key]))
        return rows[0] if rows else None

    @_locked
    def claim_digest_run(self, key: str, *, now: datetime, stale_before: datetime | None = None) -> int:
        """Take a scheduled digest run for posting: the attempt number taken (1 the first
        time), or 0 when it is not ours: posted, failed and waiting for its retry time, or
        claimed by a run in progress. A claim made before `stale_before` was left by a crash
        or a stalled attempt and is taken over (the caller looks for its message in Slack
        before posting; the stalled attempt can no longer post or finish the run)."""
        with self.transaction():
            row = self.db.execute(
                "SELECT state, attempts, claimed_at, retry_at FROM digest_runs WHERE key = ?", [key]
            ).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO digest_runs (key, started_at, claimed_at, state, attempts) "
                    "VALUES (?, ?, ?, 'claimed', 1)",
                    [key, iso(now), iso(now)],
                )
                return 1
            state, attempts, claimed_at, retry_at = row
            retry_due = state == "failed" and (retry_at is None or retry_at <= iso(now))
            abandoned = state == "claimed" and stale_before is not None and (claimed_at or "") < iso(stale_before)
            if not (retry_due or abandoned):
                return 0
            self.db.execute(
                "UPDATE digest_runs SET state = 'claimed', claimed_at = ?, attempts = ?, retry_at = NULL WHERE key = ?",
                [iso(now), int(attempts) + 1, key],
            )
            return int(attempts) + 1

    @_locked
    def renew_digest_claim(self, key: str, *, attempt: int, now: datetime) -> bool:
        """Just before posting: renew the claim of `attempt`; False when the claim is no longer
        that attempt's (taken over after the lease ran out), so it must not post."""
        cur = self.db.execute(
            "UPDATE digest_runs SET claimed_at = ? WHERE key = ? AND attempts = ? AND state = 'claimed'",
            [iso(now), key, attempt],
        )
        return cur.rowcount == 1

    @_locked
    def finish_digest_run(
        self, key: str, *, attempt: int, ref: str | None, error: str = "", retry_at: datetime | None = None
    ) -> bool:
        """Record the run posted (ref: the Slack ts), or failed (ref None) with its error and
        when to try again (None: at the next chance), if `attempt` still holds its claim;
        False (nothing changed) when a later attempt has taken it over."""
        if ref is not None:
            cur = self.db.execute(
                "UPDATE digest_runs SET state = 'posted', ref = ?, retry_at = NULL, last_error = NULL "
                "WHERE key = ? AND attempts = ? AND state = 'claimed'",
                [ref, key, attempt],
            )
        else:
            cur = self.db.execute(
                "UPDATE digest_runs SET state = 'failed', retry_at = ?, last_error = ? "
                "WHERE key = ? AND attempts = ? AND state = 'claimed'",
                [iso(retry_at) if retry_at is not None else None, error, key, attempt],
            )
        return cur.rowcount == 1
