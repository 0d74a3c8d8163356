"""Queue items and their audit events, and moderators' feedback on posts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from watcher.core.item import QueueItem, QueueRow
from watcher.core.times import from_iso
from watcher.core.vocab import OPEN_STATES, PRIORITIES, PRIORITY_RANK, Priority, QueueState
from watcher.store.base import Repository, StoreError, _dicts, _locked, _present, compact_json, iso
from watcher.store.schema import OPEN_SQL, REASONS_SQL


@dataclass(frozen=True, slots=True)
class NewItem:
    post_key: str
    priority: str
    score: int
    channel: str = ""
    notify: bool = True


class QueueTables(Repository):
    """Queue items (compare-and-set on version), their audit events, and feedback."""

    _item_columns: frozenset[str] | None = None  # the columns update_item may set, read once

    # --- queue items and audit events ---------------------------------------

    @_locked
    def create_queue_item(self, post_key: str, *, priority: str, score: int, channel: str, now: datetime) -> int | None:
        """A new item for a post; None if the post already has one (idempotent)."""
        created = self.create_queue_items([NewItem(post_key, priority, score, channel)], now=now)
        return created.get(post_key)

    @_locked
    def create_queue_items(
        self, items: Sequence[NewItem], *, now: datetime, card_kind: str | None = None
    ) -> dict[str, int]:
        """Queue items (state new, audited as "created") for posts that have none yet,
        and, with `card_kind`, their outbox notification rows: all in one transaction.
        Returns post key -> new item id."""
        if not items:
            return {}
        stamp = iso(now)
        with self.transaction():
            taken = _present(self.db, "queue_items", "post_key", [i.post_key for i in items])
            ids: dict[str, int] = {}
            fresh: list[NewItem] = []
            for item in items:  # the first item of a post is the one stored
                if item.post_key in taken:
                    continue
                taken.add(item.post_key)
                fresh.append(item)
                cur = self.db.execute(
                    "INSERT INTO queue_items (post_key, state, priority, priority_rank, score, posted_at, channel, "
                    "escalated, repeat_count, created_at, updated_at, version) VALUES (?, 'new', ?, ?, ?, "
                    "COALESCE((SELECT created_at FROM posts WHERE key = ?), ?), ?, 0, 0, ?, ?, 1)",
                    [
                        item.post_key,
                        item.priority,
                        priority_rank(item.priority),
                        item.score,
                        item.post_key,
                        stamp,
                        item.channel,
                        stamp,
                        stamp,
                    ],
                )
                ids[item.post_key] = int(cur.lastrowid or 0)
            self.db.conn.executemany(
                "INSERT INTO events (item_id, post_key, action, actor, from_state, to_state, at, detail) "
                "VALUES (?, ?, 'created', 'watcher', NULL, 'new', ?, ?)",
                [
                    [ids[i.post_key], i.post_key, stamp, compact_json({"priority": i.priority, "score": i.score})]
                    for i in fresh
                ],
            )
            if card_kind is not None:
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO outbox (kind, dedupe_key, channel, item_id, payload, status, attempts, "
                    "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                    [
                        [
                            card_kind,
                            f"{card_kind}:{i.post_key}",
                            i.channel,
                            ids[i.post_key],
                            compact_json({"item_id": ids[i.post_key], "post_key": i.post_key}),
                            stamp,
                            stamp,
                        ]
                        for i in fresh
                        if i.notify
                    ],
                )
            return ids

    @_locked
    def bump_repeat(self, original_key: str, duplicate_key: str, *, now: datetime) -> int | None:
        """A near-duplicate collapsed into the original's item: count it, audit it."""
        row = self.db.execute("SELECT id, state FROM queue_items WHERE post_key = ?", [original_key]).fetchone()
        if row is None:
            return None
        self.db.execute(
            "UPDATE queue_items SET repeat_count = repeat_count + 1, updated_at = ?, version = version + 1 WHERE id = ?",
            [iso(now), row[0]],
        )
        self.add_event(
            row[0],
            original_key,
            "repeat",
            actor="watcher",
            from_state=row[1],
            to_state=row[1],
            now=now,
            detail={"duplicate": duplicate_key},
        )
        return int(row[0])

    @_locked
    def get_item(self, item_id: int) -> QueueItem | None:
        return self._one_item("id = ?", item_id)

    @_locked
    def item_for_post(self, post_key: str) -> QueueItem | None:
        return self._one_item("post_key = ?", post_key)

    def _one_item(self, where: str, value: Any) -> QueueItem | None:
        rows = _dicts(self.db.execute(f"SELECT {_ITEM_SQL} FROM queue_items WHERE {where}", [value]))
        return _item(rows[0]) if rows else None

    @_locked
    def snoozed_due(self, *, now: datetime) -> list[int]:
        """Snoozed items whose snooze has run out (timestamps compare as text: see `iso`)."""
        rows = self.db.execute(
            "SELECT id FROM queue_items WHERE state = 'snoozed' AND snoozed_until <= ? ORDER BY id", [iso(now)]
        )
        return [row[0] for row in rows.fetchall()]

    @_locked
    def update_item(self, item_id: int, *, expected_version: int, changes: Mapping[str, Any], now: datetime) -> bool:
        """Compare-and-set on `version`: False if someone else changed the item first."""
        if self._item_columns is None:  # the schema is fixed: read it once
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(queue_items)").fetchall()}
            self._item_columns = frozenset(
                columns - {"id", "post_key", "version", "created_at", "priority_rank", "posted_at"}
            )
        unknown = set(changes) - self._item_columns
        if unknown:
            raise StoreError(f"unknown queue item columns: {sorted(unknown)}")
        values = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in changes.items()}
        if "priority" in values:  # the sort key moves with the priority (escalate)
            values["priority_rank"] = priority_rank(values["priority"])
        sets = ", ".join(f"{k} = ?" for k in values)
        cur = self.db.execute(
            f"UPDATE queue_items SET {sets}{', ' if sets else ''}updated_at = ?, version = version + 1 "
            "WHERE id = ? AND version = ?",
            [*values.values(), iso(now), item_id, expected_version],
        )
        return cur.rowcount == 1

    @_locked
    def add_event(
        self,
        item_id: int,
        post_key: str,
        action: str,
        *,
        actor: str,
        from_state: str | None,
        to_state: str | None,
        now: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        cur = self.db.execute(
            "INSERT INTO events (item_id, post_key, action, actor, from_state, to_state, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [item_id, post_key, action, actor, from_state, to_state, iso(now), compact_json(dict(detail or {}))],
        )
        return int(cur.lastrowid or 0)

    @_locked
    def events_for_item(self, item_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, action, actor, from_state, to_state, at, detail FROM events WHERE item_id = ? ORDER BY id",
            [item_id],
        ).fetchall()
        return [
            {
                "id": r[0],
                "action": r[1],
                "actor": r[2],
                "from_state": r[3],
                "to_state": r[4],
                "at": r[5],
                "detail": json.loads(r[6] or "{}"),
            }
            for r in rows
        ]

    @_locked
    def queue_rows(
        self,
        *,
        states: Iterable[str] = OPEN_STATES,
        platform: str | None = None,
        priority: str | None = None,
        limit: int = 50,
        after: QueueRow | None = None,
    ) -> list[QueueRow]:
        """Items in `states`, ranked: priority, then score, then the oldest post first; a page
        of `limit`, the next one starting `after` the last row of this one. Read in order from
        an index (queue_open for open states, queue_state for one state), never sorted."""
        state_list = list(dict.fromkeys(states))
        clauses = [f"q.state IN ({','.join('?' * len(state_list))})"]
        params: list[Any] = list(state_list)
        # named, not left to the planner: without statistics it takes the state index for a
        # list of states and then sorts every item in them
        index = ""
        if len(state_list) == 1:
            index = "INDEXED BY queue_state"
        elif set(state_list) <= set(OPEN_STATES):
            index = "INDEXED BY queue_open"
            clauses.append(f"q.state IN ({OPEN_SQL})")  # the partial index's own term
        if platform:
            clauses.append("p.platform = ?")
            params.append(platform)
        if priority:
            clauses.append("q.priority = ?")
            params.append(priority)
        if after is not None:
            clauses.append("(q.priority_rank, -q.score, q.posted_at, q.id) > (?, ?, ?, ?)")
            params.extend(after.rank_key)
        sql = (
            f"SELECT {', '.join('q.' + name for name in _ITEM_NAMES)}, q.priority_rank, q.posted_at, p.platform, "
            "p.text, p.created_at AS post_created_at, p.url, p.lang, "
            f"{REASONS_SQL.format(column='p.reasons')} AS reasons, p.intents, p.sentiment, a.handle, "
            "a.followers "
            f"FROM queue_items q {index} JOIN posts p ON p.key = q.post_key LEFT JOIN authors a ON a.key = p.author_key "
            "WHERE " + " AND ".join(clauses) + " ORDER BY q.priority_rank, q.score DESC, q.posted_at, q.id LIMIT ?"
        )
        params.append(limit)
        return [_queue_row(row) for row in _dicts(self.db.execute(sql, params))]

    def iter_queue_rows(self, *, states: Iterable[str] = OPEN_STATES, page: int = 500) -> Iterator[QueueRow]:
        """Every item in `states` in rank order, read a page at a time (the lock is held per page)."""
        state_list = list(states)
        after: QueueRow | None = None
        while True:
            rows = self.queue_rows(states=state_list, limit=page, after=after)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1]

    @_locked
    def count_items(self, *, states: Iterable[str] | None = None) -> int:
        if states is None:
            return int(self.db.execute("SELECT COUNT(*) FROM queue_items").fetchone()[0])
        state_list = list(states)
        return int(
            self.db.execute(
                f"SELECT COUNT(*) FROM queue_items WHERE state IN ({','.join('?' * len(state_list))})", state_list
            ).fetchone()[0]
        )

    @_locked
    def set_sla_due(self, item_id: int, due: datetime) -> None:
        """Derived from config, so no version bump: it never races a moderator's click."""
        self.db.execute("UPDATE queue_items SET sla_due_at = ? WHERE id = ?", [iso(due), item_id])

    # --- feedback -----------------------------------------------------------

    @_locked
    def add_feedback(self, post_key: str, label: str, *, actor: str, now: datetime, note: str = "") -> None:
        self.db.table("feedback").insert(
            {"post_key": post_key, "label": label, "actor": actor, "at": iso(now), "note": note}
        )

    @_locked
    def feedback_rows(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT f.post_key, f.label, f.actor, f.at, p.text, p.lang FROM feedback f "
            "JOIN posts p ON p.key = f.post_key ORDER BY f.id"
        ).fetchall()
        return [{"post_key": r[0], "label": r[1], "actor": r[2], "at": r[3], "text": r[4], "lang": r[5]} for r in rows]


def priority_rank(priority: str | None) -> int:
    """The queue's sort key of a priority (PRIORITY_RANK); an unknown one sorts last."""
    return PRIORITY_RANK.get(priority or "", len(PRIORITIES))


_ITEM_TIMES = ("created_at", "snoozed_until", "sla_due_at", "first_response_at", "updated_at")
_ITEM_NAMES = tuple(f.name for f in fields(QueueItem))  # the columns QueueItem has, no more
_ITEM_SQL = ", ".join(_ITEM_NAMES)


def _item(row: Mapping[str, Any]) -> QueueItem:
    values = dict(row)
    for name in _ITEM_TIMES:
        values[name] = from_iso(values[name]) if values[name] else None
    values["state"] = QueueState(values["state"])
    values["priority"] = Priority(values["priority"])
    values["escalated"] = bool(values["escalated"])
    values["hidden"] = bool(values["hidden"])
    values["repeat_count"] = int(values["repeat_count"] or 0)
    values["channel"] = values["channel"] or ""
    return QueueItem(**values)


def _queue_row(row: Mapping[str, Any]) -> QueueRow:
    rank_key = (int(row["priority_rank"]), -int(row["score"]), str(row["posted_at"]), int(row["id"]))
    return QueueRow(
        item=_item({name: row[name] for name in _ITEM_NAMES}),
        platform=row["platform"],
        text=row["text"],
        created_at=from_iso(row["post_created_at"]),
        url=row["url"],
        lang=row["lang"],
        reasons=tuple(json.loads(row["reasons"] or "[]")),
        intents=tuple(json.loads(row["intents"] or "[]")),
        sentiment=row["sentiment"],
        handle=row["handle"],
        followers=row["followers"],
        rank_key=rank_key,
    )
