"""SQLite through sqlite-utils: schema, migrations and every query the watcher runs.

All SQL lives in this package. One connection is shared by the scheduler's
threads behind a re-entrant lock; `transaction()` opens BEGIN IMMEDIATE so a
batch of posts, their queue items, outbox rows and the source cursor commit
together or not at all. WAL lets the CLI read while the service writes.

`Store` (core.py) is one class made of one mixin per group of tables: schema.py
(migrations), posts.py (posts, authors, the ingest write path), queue.py (queue
items, audit events, feedback), delivery.py (outbox, replies), sources.py (source
health and cursors), slack.py (Slack messages and card context), digest.py
(aggregates, scheduled digest runs), spikes.py (the last alerted spike of each statistic).
"""

from __future__ import annotations

from watcher.store.base import StoreError, from_iso, iso
from watcher.store.core import Store
from watcher.store.items import NewItem
from watcher.store.posts import TRIAGE_COLUMNS, NewPost, RecentPost, StoredTriage, TriageColumns
from watcher.store.schema import MIGRATIONS, QUARTER_SQL, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS",
    "QUARTER_SQL",
    "SCHEMA_VERSION",
    "TRIAGE_COLUMNS",
    "NewItem",
    "NewPost",
    "RecentPost",
    "Store",
    "StoreError",
    "StoredTriage",
    "TriageColumns",
    "from_iso",
    "iso",
]
