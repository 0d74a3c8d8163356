"""What every part of the store stands on: the one timestamp format, the error users
see, the lock every query holds, the connection with its transactions, and the
repository base class."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import sqlite_utils

P = ParamSpec("P")
R = TypeVar("R")


def iso(moment: datetime) -> str:
    """The one timestamp format in the database: UTC, microseconds, sortable as text."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # moment.isoformat(timespec="microseconds") spelled out: 40% fewer instructions (callgrind), one
    # per stored post; % is cheaper here than an f-string with seven format specs
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts keyed by column name (its AS alias, if any)."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class StoreError(Exception):
    pass


# SQLite picks new rowids at random once the largest reaches 2**63 - 1; far below that
# a new row's rowid is the largest + 1 (see Connection.rowid_mark)
_ROWID_ROOM = 2**62


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

    def rowid_mark(self, table: str) -> int | None:
        """The table's largest rowid, read inside a write transaction: the rows an insert then
        adds are exactly those above it (SQLite gives a new row the largest rowid + 1), so
        they are found without looking each key up. None near SQLite's largest rowid, where
        new rowids are picked at random: callers then check keys one by one."""
        last = int(self.db.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0])
        return last if last < _ROWID_ROOM else None


class Repository:
    """The queries of one group of tables, on the store's shared connection and lock."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.db = connection.db
        self._lock = connection._lock

    def transaction(self) -> AbstractContextManager[None]:
        return self._connection.transaction()

    def _rowid_mark(self, table: str) -> int | None:
        return self._connection.rowid_mark(table)
