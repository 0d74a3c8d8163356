"""What every part of the store stands on: the one timestamp format, the error users
see, the lock every query holds, the connection with its transactions, and the
repository base class."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
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


def _present(db: sqlite_utils.Database, table: str, column: str, values: Sequence[str]) -> set[str]:
    """Which of `values` the column holds (looked up 500 at a time: SQLite's variable limit)."""
    found: set[str] = set()
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        rows = db.execute(f"SELECT {column} FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)
        found.update(row[0] for row in rows)
    return found


def compact_json(value: Any) -> str:
    """JSON as the store keeps it: no spaces after separators, text as is (not \\u-escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class StoreError(Exception):
    pass


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        with store._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class Connection:
    """The one connection and lock every repository shares, and its transactions (Store
    opens them)."""

    path: str
    db: sqlite_utils.Database
    _lock: threading.RLock

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, re-entrant: nested calls join the outer one, so calls on
        several repositories inside one `with store.transaction():` commit together."""
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


class Repository:
    """The queries of one group of tables, on the store's shared connection and lock."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.db = connection.db
        self._lock = connection._lock

    def transaction(self) -> AbstractContextManager[None]:
        return self._connection.transaction()
