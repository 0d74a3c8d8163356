"""SQLite through sqlite-utils: the schema and every query the watcher runs.

All SQL lives in this package. One connection is shared by the scheduler's
threads behind a re-entrant lock; `transaction()` opens BEGIN IMMEDIATE so a
batch of posts, their queue items, outbox rows and the source cursor commit
together or not at all. WAL lets the CLI read while the service writes.

`Store` (core.py) opens the database (schema.py: one CREATE script, version 1) and
holds one repository per group of tables, all on that connection:
store.posts (posts, authors, the ingest write path), store.items (queue items, audit
events, feedback), store.outbox (notifications), store.replies (reply keys and send
leases), store.sources (source health and cursors), store.slack (Slack messages and
card context), store.reports (digest aggregates, scheduled digest runs) and
store.spikes (the last alerted spike of each statistic).
"""

from __future__ import annotations

from watcher.store.base import StoreError, from_iso, iso
from watcher.store.core import Store
from watcher.store.items import NewItem
from watcher.store.posts import TRIAGE_COLUMNS, AuthorProbe, NewPost, StoredHistory, StoredTriage, TriageColumns
from watcher.store.schema import QUARTER_SQL, SCHEMA_VERSION
from watcher.store.sources import SourceState

__all__ = [
    "AuthorProbe",
    "QUARTER_SQL",
    "SCHEMA_VERSION",
    "TRIAGE_COLUMNS",
    "NewItem",
    "NewPost",
    "StoredHistory",
    "SourceState",
    "Store",
    "StoreError",
    "StoredTriage",
    "TriageColumns",
    "from_iso",
    "iso",
]
