"""The schema: one CREATE script for schema version 1, written to a new database, and the
check that an existing database is one this watcher can read."""

from __future__ import annotations

import sqlite3

from watcher.core.vocab import OPEN_STATES
from watcher.store.base import StoreError

SCHEMA_VERSION = 1
# marks a database as the watcher's (PRAGMA application_id, "WTCH"): a development build
# before version 1 left user_version 1 on a database without the tables added later
APPLICATION_ID = 0x57544348

# 15-minute UTC bucket of a post, e.g. "2026-10-25T01:2" for 01:30-01:44: every real time
# zone offset is a multiple of 15 minutes, so local hours and days are sums of these.
# the open states as an SQL list: the partial index and the queries that use it say it alike
OPEN_SQL = ", ".join(f"'{state}'" for state in OPEN_STATES)

QUARTER_SQL = "substr(created_at, 1, 14) || (CAST(substr(created_at, 15, 2) AS INTEGER) / 15)"

# a posts.reasons column read back as the JSON list of words it stands for, in order (a
# database made before reason_texts holds the words themselves: they are kept as they are)
REASONS_SQL = (
    "(SELECT json_group_array(COALESCE(t.text, j.value)) FROM json_each({column}) j "
    "LEFT JOIN reason_texts t ON t.id = j.value)"
)

_AUTHOR_OF = "SELECT author_key FROM posts WHERE key = {row}.post_key"

SCHEMA = f"""
CREATE TABLE posts (
    key TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    native_id TEXT NOT NULL,
    source TEXT,
    kind TEXT,
    url TEXT,
    text TEXT NOT NULL,
    -- normalized_text(text) hashed (store.posts.norm_hash): de-duplication looks posts up by it
    norm_hash INTEGER,
    lang TEXT,
    created_at TEXT NOT NULL,
    fetched_at TEXT,
    author_key TEXT,
    parent_id TEXT,
    conversation_id TEXT,
    parent_text TEXT,
    likes INTEGER,
    reposts INTEGER,
    replies INTEGER,
    is_own INTEGER,
    is_repost INTEGER,
    duplicate_of TEXT,
    score INTEGER,
    priority TEXT,
    needs_reply INTEGER,
    sentiment REAL,
    sentiment_label TEXT,
    intents TEXT,
    -- the triage reasons as a JSON list of reason_texts ids (REASONS_SQL reads them back)
    reasons TEXT,
    tags TEXT,
    channel TEXT,
    rating INTEGER,
    review TEXT
);
CREATE INDEX idx_posts_created_at ON posts (created_at);
CREATE INDEX idx_posts_author_key_created_at ON posts (author_key, created_at);
-- digest figures come from one index-only, sort-free GROUP BY over this partial index
-- (counted posts: not own, not duplicates); its column order is the GROUP BY order
CREATE INDEX posts_digest ON posts
    ({QUARTER_SQL}, sentiment_label, platform, source, lang, intents, created_at)
    WHERE duplicate_of IS NULL AND is_own = 0;

-- each post's platform payload (zlib-compressed JSON) until it is storage.raw_days old, in
-- the post's time order: pruning deletes whole pages of the oldest, which new rows reuse
-- (a column cleared in place would leave holes in every page of posts)
CREATE TABLE post_raw (
    created_at TEXT NOT NULL,
    post_key TEXT NOT NULL,
    raw BLOB NOT NULL,
    PRIMARY KEY (created_at, post_key)
) WITHOUT ROWID;

-- each triage reason's words once: most repeat across posts ("question or request (+20)")
CREATE TABLE reason_texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);

CREATE TABLE authors (
    key TEXT PRIMARY KEY,
    platform TEXT,
    author_id TEXT,
    handle TEXT,
    display_name TEXT,
    followers INTEGER,
    verified INTEGER,
    first_seen TEXT,
    last_seen TEXT,
    post_count INTEGER,
    -- open queue items of the author's posts (ingest's "has open cases"), kept by the
    -- queue_items triggers below in the same transaction as the item's change
    open_items INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX authors_followers ON authors (followers);

CREATE TABLE cursors (source TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT);

CREATE TABLE source_state (
    source TEXT PRIMARY KEY,
    healthy INTEGER,
    message TEXT,
    failures INTEGER,
    backoff_until TEXT,
    rate_limits TEXT,
    last_success_at TEXT
);

CREATE TABLE queue_items (
    id INTEGER PRIMARY KEY,
    post_key TEXT NOT NULL,
    state TEXT NOT NULL,
    priority TEXT,
    -- the priority's place in PRIORITY_RANK (0: urgent), kept with it: the queue's sort key
    priority_rank INTEGER NOT NULL,
    score INTEGER NOT NULL,
    -- the post's time, copied once: the queue's last sort key, so the ranking is one index
    posted_at TEXT NOT NULL,
    channel TEXT,
    assignee TEXT,
    escalated INTEGER,
    repeat_count INTEGER,
    draft_text TEXT,
    draft_note TEXT,
    drafted_by TEXT,
    approved_by TEXT,
    reply_key TEXT,
    reply_url TEXT,
    dismiss_reason TEXT,
    -- hidden on the platform by a moderator (and so dismissed as spam)
    hidden INTEGER NOT NULL DEFAULT 0,
    snoozed_until TEXT,
    sla_due_at TEXT,
    first_response_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    version INTEGER
);
CREATE UNIQUE INDEX idx_queue_items_post_key ON queue_items (post_key);
CREATE TRIGGER queue_items_open_insert AFTER INSERT ON queue_items WHEN NEW.state IN ({OPEN_SQL})
BEGIN
    UPDATE authors SET open_items = open_items + 1 WHERE key = ({_AUTHOR_OF.format(row="NEW")});
END;
CREATE TRIGGER queue_items_open_update AFTER UPDATE OF state ON queue_items
    WHEN (OLD.state IN ({OPEN_SQL})) != (NEW.state IN ({OPEN_SQL}))
BEGIN
    UPDATE authors SET open_items = open_items + IIF(NEW.state IN ({OPEN_SQL}), 1, -1)
    WHERE key = ({_AUTHOR_OF.format(row="NEW")});
END;
CREATE TRIGGER queue_items_open_delete AFTER DELETE ON queue_items WHEN OLD.state IN ({OPEN_SQL})
BEGIN
    UPDATE authors SET open_items = open_items - 1 WHERE key = ({_AUTHOR_OF.format(row="OLD")});
END;
-- the ranked queue read in order through an index, never sorted: open items through the
-- partial index, one state through the other (see QueueTables.queue_rows)
CREATE INDEX queue_open ON queue_items (priority_rank, score DESC, posted_at, id)
    WHERE state IN ({OPEN_SQL});
CREATE INDEX queue_state ON queue_items (state, priority_rank, score DESC, posted_at, id);
CREATE INDEX queue_items_created ON queue_items (created_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    item_id INTEGER,
    post_key TEXT,
    action TEXT,
    actor TEXT,
    from_state TEXT,
    to_state TEXT,
    at TEXT,
    detail TEXT
);
CREATE INDEX idx_events_item_id_id ON events (item_id, id);

CREATE TABLE feedback (id INTEGER PRIMARY KEY, post_key TEXT, label TEXT, actor TEXT, at TEXT, note TEXT);
CREATE INDEX idx_feedback_post_key ON feedback (post_key);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT,
    dedupe_key TEXT,
    channel TEXT,
    item_id INTEGER,
    -- compact JSON; NULL a day after the row was sent (nothing reads a sent row's payload)
    payload TEXT,
    status TEXT,
    attempts INTEGER,
    next_attempt_at TEXT,
    ref TEXT,
    last_error TEXT,
    created_at TEXT,
    sent_at TEXT,
    -- which process holds the delivery lease (host:pid:token), so a restart frees a dead one's rows
    lease_owner TEXT
);
CREATE UNIQUE INDEX idx_outbox_dedupe_key ON outbox (dedupe_key);
-- the rows still to deliver (or given up), not the sent ones that pile up: due_outbox and the
-- backlog read these; a query must say status = 'pending' (or 'failed') for SQLite to use it
CREATE INDEX idx_outbox_status_next_attempt_at ON outbox (status, next_attempt_at)
    WHERE status = 'pending' OR status = 'failed';
-- sent rows whose payload is still kept: OutboxTables.prune_payloads clears it a day on
CREATE INDEX outbox_payload_kept ON outbox (sent_at) WHERE status = 'sent' AND payload IS NOT NULL;

-- when each periodic job last ran, so its interval holds across restarts
CREATE TABLE job_runs (
    name TEXT PRIMARY KEY,
    last_run_at TEXT
);

-- posting_until: the send lease (one send at a time may call the platform for an item)
CREATE TABLE replies (
    key TEXT PRIMARY KEY,
    item_id INTEGER,
    post_key TEXT,
    text TEXT,
    status TEXT,
    platform_reply_id TEXT,
    url TEXT,
    error TEXT,
    created_at TEXT,
    updated_at TEXT,
    posting_until TEXT
);
CREATE INDEX replies_item ON replies (item_id);

-- where each item's Slack messages live (card, thread, escalation copy, overflow
-- summary), so cards are updated in place and never posted twice
CREATE TABLE slack_messages (
    key TEXT PRIMARY KEY,
    item_id INTEGER,
    kind TEXT,
    channel TEXT,
    ts TEXT,
    thread_ts TEXT,
    bucket TEXT,
    created_at TEXT,
    updated_at TEXT
);
CREATE INDEX idx_slack_messages_item_id ON slack_messages (item_id);
CREATE INDEX idx_slack_messages_channel_kind_created_at ON slack_messages (channel, kind, created_at);
CREATE INDEX idx_slack_messages_bucket ON slack_messages (bucket);

-- one row per scheduled digest period: claimed (being posted), posted (ref: the Slack
-- ts) or failed (retry_at, last_error); a claim belongs to its attempt number
CREATE TABLE digest_runs (
    key TEXT PRIMARY KEY,
    started_at TEXT,
    ref TEXT,
    state TEXT NOT NULL DEFAULT 'claimed',
    attempts INTEGER NOT NULL DEFAULT 1,
    claimed_at TEXT,
    retry_at TEXT,
    last_error TEXT
);
-- when each schedule was first seen: a new schedule does not post the periods before it
CREATE TABLE digest_schedules (name TEXT PRIMARY KEY, first_seen TEXT);

-- the last alerted spike of each statistic: a spike that goes on is alerted once
CREATE TABLE spike_state (statistic TEXT PRIMARY KEY, first_hour TEXT, last_hour TEXT, updated_at TEXT);

-- incidents: one problem many customers write about (watcher.core.incident); their
-- posts, statements per language and kind, and an audit timeline like queue items'
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    intent TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    first_statement_at TEXT,
    resolved_at TEXT,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX incidents_state ON incidents (state, intent);

-- own_card: the post kept its own card (urgent for another reason)
CREATE TABLE incident_posts (
    post_key TEXT PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    joined_at TEXT NOT NULL,
    own_card INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX incident_posts_incident ON incident_posts (incident_id);

CREATE TABLE incident_statements (
    incident_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    drafted_by TEXT NOT NULL,
    approved_by TEXT,
    override_reason TEXT NOT NULL DEFAULT '',
    updated_at TEXT,
    PRIMARY KEY (incident_id, kind, lang)
);

CREATE TABLE incident_events (
    id INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    at TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- answering everyone: a platform that said stop is not asked again before `until`
CREATE TABLE incident_waits (platform TEXT PRIMARY KEY, until TEXT NOT NULL);
"""


def prepare(conn: sqlite3.Connection, path: str) -> None:
    """Create the schema in a new, empty database; accept one at SCHEMA_VERSION; refuse
    anything else, saying what to do about it."""
    if _identity(conn) == (SCHEMA_VERSION, APPLICATION_ID):
        return
    conn.execute("BEGIN IMMEDIATE")  # two processes opening a new file: one creates it
    try:
        version, application = _identity(conn)
        if (version, application) == (0, 0):
            _create(conn, path)
            version, application = SCHEMA_VERSION, APPLICATION_ID
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if (version, application) == (SCHEMA_VERSION, APPLICATION_ID):
        return
    if application == APPLICATION_ID and version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this watcher ({SCHEMA_VERSION}); upgrade the watcher"
        )
    raise StoreError(
        f"{path} was made by a development build of the watcher before schema version {SCHEMA_VERSION} "
        f"(it has version {version}), which this watcher cannot read; move it aside and let the watcher "
        "create a new database (storage.path), then poll again to refill it"
    )


def _create(conn: sqlite3.Connection, path: str) -> None:
    if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
        raise StoreError(
            f"{path} is an SQLite database with other tables, not a watcher database; point storage.path at a new file"
        )
    for statement in _statements(SCHEMA):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _identity(conn: sqlite3.Connection) -> tuple[int, int]:
    """(user_version, application_id) of the database."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    return version, int(conn.execute("PRAGMA application_id").fetchone()[0])


def _statements(script: str) -> list[str]:
    """The script's statements one by one (executescript would commit the transaction)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements
