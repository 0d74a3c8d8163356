"""The schema: migrations, applied in order, each in its own transaction; the
database's user_version is the number of migrations applied."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from watcher.store.base import StoreBase, StoreError, _locked, from_iso, iso


def _migration_1(db: sqlite_utils.Database) -> None:
    db.table("posts").create(
        {
            "key": str,
            "platform": str,
            "native_id": str,
            "source": str,
            "kind": str,
            "url": str,
            "text": str,
            "norm_text": str,
            "lang": str,
            "created_at": str,
            "fetched_at": str,
            "author_key": str,
            "parent_id": str,
            "conversation_id": str,
            "parent_text": str,
            "likes": int,
            "reposts": int,
            "replies": int,
            "is_own": int,
            "is_repost": int,
            "duplicate_of": str,
            "score": int,
            "priority": str,
            "needs_reply": int,
            "sentiment": float,
            "sentiment_label": str,
            "intents": str,
            "reasons": str,
            "tags": str,
            "channel": str,
            "raw": str,
        },
        pk="key",
        not_null={"platform", "native_id", "created_at", "text"},
    )
    db.table("posts").create_index(["created_at"])
    db.table("posts").create_index(["author_key", "created_at"])
    db.table("authors").create(
        {
            "key": str,
            "platform": str,
            "author_id": str,
            "handle": str,
            "display_name": str,
            "followers": int,
            "verified": int,
            "first_seen": str,
            "last_seen": str,
            "post_count": int,
        },
        pk="key",
    )
    db.table("cursors").create({"source": str, "cursor": str, "updated_at": str}, pk="source")
    db.table("queue_items").create(
        {
            "id": int,
            "post_key": str,
            "state": str,
            "priority": str,
            "score": int,
            "channel": str,
            "assignee": str,
            "escalated": int,
            "repeat_count": int,
            "draft_text": str,
            "draft_note": str,
            "drafted_by": str,
            "approved_by": str,
            "reply_key": str,
            "reply_url": str,
            "dismiss_reason": str,
            "snoozed_until": str,
            "sla_due_at": str,
            "first_response_at": str,
            "last_error": str,
            "created_at": str,
            "updated_at": str,
            "version": int,
        },
        pk="id",
        not_null={"post_key", "state", "created_at"},
    )
    db.table("queue_items").create_index(["post_key"], unique=True)
    db.table("queue_items").create_index(["state", "priority"])
    db.table("events").create(
        {
            "id": int,
            "item_id": int,
            "post_key": str,
            "action": str,
            "actor": str,
            "from_state": str,
            "to_state": str,
            "at": str,
            "detail": str,
        },
        pk="id",
    )
    db.table("events").create_index(["item_id", "id"])
    db.table("feedback").create(
        {"id": int, "post_key": str, "label": str, "actor": str, "at": str, "note": str}, pk="id"
    )
    db.table("feedback").create_index(["post_key"])
    db.table("outbox").create(
        {
            "id": int,
            "kind": str,
            "dedupe_key": str,
            "channel": str,
            "item_id": int,
            "payload": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": str,
            "ref": str,
            "last_error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
    )
    db.table("outbox").create_index(["dedupe_key"], unique=True)
    db.table("outbox").create_index(["status", "next_attempt_at"])
    db.table("source_state").create(
        {
            "source": str,
            "healthy": int,
            "message": str,
            "failures": int,
            "backoff_until": str,
            "rate_limits": str,
            "last_success_at": str,
            "requests_today": int,
            "requests_day": str,
        },
        pk="source",
    )
    db.table("replies").create(
        {
            "key": str,
            "item_id": int,
            "post_key": str,
            "text": str,
            "status": str,
            "platform_reply_id": str,
            "url": str,
            "error": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="key",
    )


def _migration_slack(db: sqlite_utils.Database) -> None:
    """Where each item's Slack messages live (card, thread, escalation copy, overflow
    summary), so cards are updated in place and never posted twice."""
    db.table("slack_messages").create(
        {
            "key": str,
            "item_id": int,
            "kind": str,
            "channel": str,
            "ts": str,
            "thread_ts": str,
            "bucket": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="key",
    )
    db.table("slack_messages").create_index(["item_id"])
    db.table("slack_messages").create_index(["channel", "kind", "created_at"])
    db.table("slack_messages").create_index(["bucket"])


# 15-minute UTC bucket of a post, e.g. "2026-10-25T01:2" for 01:30-01:44: every real time
# zone offset is a multiple of 15 minutes, so local hours and days are sums of these.
QUARTER_SQL = "substr(created_at, 1, 14) || (CAST(substr(created_at, 15, 2) AS INTEGER) / 15)"


def _migration_digest(db: sqlite_utils.Database) -> None:
    """Digest figures come from one index-only, sort-free GROUP BY over this partial index
    (counted posts: not own, not duplicates); its column order is the GROUP BY order."""
    db.execute(
        f"CREATE INDEX IF NOT EXISTS posts_digest ON posts "
        f"({QUARTER_SQL}, sentiment_label, platform, source, lang, intents, created_at) "
        "WHERE duplicate_of IS NULL AND is_own = 0"
    )
    db.execute("CREATE INDEX IF NOT EXISTS authors_followers ON authors (followers)")
    db.execute("CREATE INDEX IF NOT EXISTS queue_items_created ON queue_items (created_at)")
    db.table("digest_runs").create({"key": str, "started_at": str, "ref": str}, pk="key")


def _migration_outbox_retry(db: sqlite_utils.Database) -> None:
    """Cards and card redraws an older watcher gave up on after 20 attempts while the
    service only asked it to wait (Slack down, bot not invited) wait again: they are drawn
    from the item's current state when delivered, so a late card is still true. Other kinds
    given up keep their `failed` status (`watcher check` counts them): notes, digests and
    spike alerts carry the text written when they were queued, and a reminder, thread or
    escalation copy weeks late would ping people about an item long settled. Rows refused
    for good keep their `failed` status too."""
    db.execute(
        "UPDATE outbox SET status = 'pending', last_error = 'requeued on upgrade; ' || last_error "
        "WHERE status = 'failed' AND kind IN ('card', 'card_update') AND last_error LIKE 'gave up after % attempts: %'"
    )


def _migration_send_lease(db: sqlite_utils.Database) -> None:
    """A reply row's send lease: until when one send (one click, in one process) may call
    the platform for its item; an index finds an item's replies (the lease and the
    look-before-posting check read them all)."""
    db.execute("ALTER TABLE replies ADD COLUMN posting_until TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS replies_item ON replies (item_id)")


def _migration_spike_state(db: sqlite_utils.Database) -> None:
    """The last alerted spike of each statistic (its first and last spiking hour): a spike
    that goes on, or whose first hour moves when late posts arrive, is alerted once.
    Seeded from the spike alerts already in the outbox (the latest of each statistic), so
    an upgrade in the middle of a spike does not alert it again."""
    db.table("spike_state").create(
        {"statistic": str, "first_hour": str, "last_hour": str, "updated_at": str}, pk="statistic"
    )
    # with one MAX() aggregate SQLite takes the bare columns from the row holding the maximum
    latest = db.execute(
        "SELECT json_extract(payload, '$.spike.statistic'), json_extract(payload, '$.spike.started'), "
        "MAX(json_extract(payload, '$.spike.hour')), created_at FROM outbox "
        "WHERE kind = 'spike_alert' AND json_valid(payload) AND json_extract(payload, '$.spike.hour') IS NOT NULL "
        "AND json_extract(payload, '$.spike.started') IS NOT NULL GROUP BY 1"
    ).fetchall()
    for statistic, started, hour, created_at in latest:
        db.execute(
            "INSERT INTO spike_state (statistic, first_hour, last_hour, updated_at) VALUES (?, ?, ?, ?)",
            [statistic, iso(from_iso(started)), iso(from_iso(hour)), created_at],
        )


def _migration_digest_run_state(db: sqlite_utils.Database) -> None:
    """A scheduled digest run's state (claimed, posted, failed), attempts and retry time, so
    a period an outage, a restart or a crash interrupted is caught up, and when each schedule
    was first seen, so a new schedule does not post the periods before it existed.

    Runs keep the keys an older watcher wrote (digest:<schedule>:<UTC period start>): the
    period and time zone they were cut in are in the config, not here, so the watcher gives
    each its key (digest:<schedule>:<period>:<local start date>) when it next looks at that
    period (`adopt_legacy_digest_run`). Older watchers posted digests without metadata: a run
    one left claimed without a ref is looked for in the channel by the digest's first line
    (its title: brand, period and date) before it is posted again."""
    for column in (
        "state TEXT NOT NULL DEFAULT 'claimed'",
        "attempts INTEGER NOT NULL DEFAULT 1",
        "claimed_at TEXT",
        "retry_at TEXT",
        "last_error TEXT",
    ):
        db.execute(f"ALTER TABLE digest_runs ADD COLUMN {column}")
    db.execute(
        "UPDATE digest_runs SET claimed_at = started_at, state = CASE WHEN ref IS NULL THEN 'claimed' ELSE 'posted' END"
    )
    db.table("digest_schedules").create({"name": str, "first_seen": str}, pk="name")
    # keys start digest:<schedule>:; a schedule that ran before counts from its first run
    db.execute(
        "INSERT INTO digest_schedules (name, first_seen) "
        "SELECT substr(key, 8, instr(substr(key, 8), ':') - 1), MIN(started_at) FROM digest_runs "
        "WHERE key LIKE 'digest:%:%' GROUP BY 1"
    )


def _migration_restart_takeover(db: sqlite_utils.Database) -> None:
    """Who holds an outbox row's delivery lease (a process token), so a restarted process
    frees the rows its dead predecessor held at once, not when their lease runs out; and
    when each periodic job last ran, so a restart does not run it again before its interval."""
    db.execute("ALTER TABLE outbox ADD COLUMN lease_owner TEXT")
    db.table("job_runs").create({"name": str, "last_run_at": str}, pk="name")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _migration_1,
    _migration_slack,
    _migration_digest,
    _migration_outbox_retry,
    _migration_send_lease,
    _migration_spike_state,
    _migration_digest_run_state,
    _migration_restart_takeover,
]
SCHEMA_VERSION = len(MIGRATIONS)


class Migrations(StoreBase):
    """Brings a database up to SCHEMA_VERSION, one migration per transaction."""

    # --- schema -------------------------------------------------------------

    @_locked
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @_locked
    def migrate(self) -> int:
        """Apply every migration past the stored version, each in its own transaction."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this watcher ({SCHEMA_VERSION}); "
                "upgrade the watcher"
            )
        for number in range(current + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                MIGRATIONS[number - 1](self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
        return SCHEMA_VERSION
