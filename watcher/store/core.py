"""The Store: opens the database, migrates it, and joins the query mixins into one class."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from watcher.store.base import StoreError
from watcher.store.delivery import DeliveryTables
from watcher.store.items import QueueTables
from watcher.store.posts import PostTables
from watcher.store.reports import DigestQueries
from watcher.store.schema import Migrations
from watcher.store.slack import SlackTables
from watcher.store.sources import SourceTables
from watcher.store.spikes import SpikeTables


class Store(Migrations, PostTables, QueueTables, DeliveryTables, SourceTables, SlackTables, DigestQueries, SpikeTables):
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
