"""What every part of the store stands on: the one timestamp format, the error users
see, the lock every query holds, and the connection with its transactions."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

# the timestamp format is core's (cards read it too); store modules keep importing it from here
from watcher.core.times import from_iso as from_iso
from watcher.core.times import iso as iso

P = ParamSpec("P")
R = TypeVar("R")


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts keyed by column name (its AS alias, if any)."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class StoreError(Exception):
    pass


# SQLite picks new rowids at random once the largest reaches 2**63 - 1; far below that
# a new row's rowid is the largest + 1 (see Store._rowid_mark)
_ROWID_ROOM = 2**62


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        with store._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class StoreBase:
    """The connection and lock the query mixins share (Store sets them up)."""

    path: str
    db: sqlite_utils.Database
    _lock: threading.RLock
    _item_columns: frozenset[str] | None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, re-entrant: nested calls join the outer one."""
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- ingest speed ---

    def _rowid_mark(self, table: str) -> int | None:
        """The table's largest rowid, read inside a write transaction: the rows an insert then
        adds are exactly those above it (SQLite gives a new row the largest rowid + 1), so
        they are found without looking each key up. None near SQLite's largest rowid, where
        new rowids are picked at random: callers then check keys one by one."""
        last = int(self.db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0])
        return last if last < _ROWID_ROOM else None
