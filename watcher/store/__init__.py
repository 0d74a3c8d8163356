"""SQLite through sqlite-utils: schema, migrations and every query the watcher runs.

All SQL lives in this package; see core.py.
"""

from __future__ import annotations

from watcher.store.base import StoreError, from_iso, iso
from watcher.store.core import Store
from watcher.store.posts import TRIAGE_COLUMNS, NewPost, RecentPost, StoredTriage, TriageColumns
from watcher.store.queue import OPEN_STATES, PRIORITY_RANK, NewItem
from watcher.store.schema import MIGRATIONS, QUARTER_SQL, SCHEMA_VERSION

__all__ = [
    "MIGRATIONS",
    "NewItem",
    "NewPost",
    "OPEN_STATES",
    "PRIORITY_RANK",
    "QUARTER_SQL",
    "RecentPost",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "StoredTriage",
    "TRIAGE_COLUMNS",
    "TriageColumns",
    "from_iso",
    "iso",
]
