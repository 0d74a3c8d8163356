"""The Store: opens the database, creates its schema, and composes the repositories on
one connection."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from watcher.store.base import Connection, StoreError
from watcher.store.delivery import OutboxTables, ReplyTables
from watcher.store.incidents import IncidentTables
from watcher.store.items import QueueTables
from watcher.store.posts import PostTables
from watcher.store.reports import DigestQueries
from watcher.store.schema import prepare
from watcher.store.slack import SlackTables
from watcher.store.sources import SourceTables
from watcher.store.spikes import SpikeTables


class Store(Connection):
    """The watcher's database: one repository per group of tables (store.posts,
    store.items, ...), all on one connection, so `with store.transaction():` spans them.
    Safe to share across the scheduler's threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}; check storage.path") from None
        self._lock = threading.RLock()
        self.db = sqlite_utils.Database(conn)
        try:
            if self.path != ":memory:":
                self.db.enable_wal()
            conn.execute("PRAGMA busy_timeout = 30000")
            # WAL + NORMAL: a crash never corrupts or splits a transaction (posts and
            # their cursor stay together); only fsyncs at checkpoints are saved
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            prepare(conn, self.path)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{self.path} is not a usable watcher database ({exc}); point storage.path elsewhere"
            ) from None
        self.posts = PostTables(self)
        self.items = QueueTables(self)
        self.outbox = OutboxTables(self)
        self.replies = ReplyTables(self)
        self.sources = SourceTables(self)
        self.slack = SlackTables(self)
        self.reports = DigestQueries(self)
        self.spikes = SpikeTables(self)
        self.incidents = IncidentTables(self)

    def schema_version(self) -> int:
        with self._lock:
            return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
