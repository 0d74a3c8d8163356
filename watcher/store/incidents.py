"""Incidents: their posts, statements, timeline, and the platform waits of answering everyone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from watcher.core.incident import (
    OPEN_INCIDENT_STATES,
    Incident,
    IncidentEvent,
    IncidentPost,
    IncidentRef,
    IncidentState,
    Statement,
    StatementKind,
)
from watcher.store.base import Repository, StoreError, _locked, from_iso, iso


def followup_key(incident_id: int, item_id: int) -> str:
    """The closing statement's reply key: one per incident and post, whatever its words."""
    return f"{followup_prefix(incident_id)}{item_id}"


def followup_prefix(incident_id: int) -> str:
    return f"incident{incident_id}-closing-item"


def _when(value: str | None) -> datetime | None:
    return from_iso(value) if value else None


class IncidentTables(Repository):
    """incidents, incident_posts, incident_statements, incident_events, incident_waits.
    State changes are compare-and-set on the incident's version and audited in one transaction."""

    # --- incidents ---------------------------------------------------------------

    @_locked
    def create(
        self, *, title: str, intent: str, state: IncidentState, actor: str, now: datetime, detail: Mapping[str, Any]
    ) -> int:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO incidents (title, intent, state, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, 1)",
                [title, intent, state.value, iso(now), iso(now)],
            )
            incident_id = int(cur.lastrowid or 0)
            self.add_event(incident_id, "created", actor=actor, from_state=None, to_state=state, now=now, detail=detail)
        return incident_id

    @_locked
    def get(self, incident_id: int) -> Incident | None:
        rows = self._incidents("WHERE id = ?", [incident_id])
        return rows[0] if rows else None

    @_locked
    def active(self, states: Sequence[str]) -> list[Incident]:
        """Incidents in `states`, newest first."""
        return self._incidents(f"WHERE state IN ({','.join('?' * len(states))}) ORDER BY id DESC", list(states))

    @_locked
    def between(self, start: datetime, end: datetime) -> list[Incident]:
        """Incidents open at any time in [start, end): created before its end and not resolved before its start."""
        return self._incidents(
            "WHERE created_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) AND state != 'ignored' ORDER BY id",
            [iso(end), iso(start)],
        )

    def _incidents(self, where: str, params: list[Any]) -> list[Incident]:
        rows = self.db.execute(
            "SELECT id, title, intent, state, created_at, updated_at, version, opened_by, first_statement_at, "
            f"resolved_at FROM incidents {where}",
            params,
        ).fetchall()
        return [
            Incident(
                id=r[0],
                title=r[1],
                intent=r[2],
                state=IncidentState(r[3]),
                created_at=from_iso(r[4]),
                updated_at=from_iso(r[5]),
                version=r[6],
                opened_by=r[7],
                first_statement_at=_when(r[8]),
                resolved_at=_when(r[9]),
            )
            for r in rows
        ]

    @_locked
    def move(
        self,
        incident: Incident,
        to_state: IncidentState,
        *,
        actor: str,
        now: datetime,
        changes: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
        action: str = "",
    ) -> bool:
        """Compare-and-set: False when someone changed the incident first."""
        allowed = {"title", "opened_by", "first_statement_at", "resolved_at"}
        extra = dict(changes or {})
        if set(extra) - allowed:
            raise StoreError(f"unknown incident columns: {sorted(set(extra) - allowed)}")
        values = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in extra.items()}
        sets = "".join(f", {k} = ?" for k in values)
        with self.transaction():
            cur = self.db.execute(
                f"UPDATE incidents SET state = ?, updated_at = ?, version = version + 1{sets} WHERE id = ? AND version = ?",
                [to_state.value, iso(now), *values.values(), incident.id, incident.version],
            )
            if cur.rowcount != 1:
                return False
            self.add_event(
                incident.id,
                action or to_state.value,
                actor=actor,
                from_state=incident.state,
                to_state=to_state,
                now=now,
                detail=detail,
            )
        return True

    @_locked
    def mark_first_statement(self, incident_id: int, *, now: datetime) -> None:
        """When the first statement went out (set once: the digest's time to first statement)."""
        self.db.execute(
            "UPDATE incidents SET first_statement_at = COALESCE(first_statement_at, ?) WHERE id = ?",
            [iso(now), incident_id],
        )

    # --- posts ----------------------------------------------------------------------

    @_locked
    def add_posts(self, incident_id: int, keys: Sequence[str], *, now: datetime, own_card: Sequence[str] = ()) -> int:
        """Link posts to the incident (a post belongs to one incident: a linked one stays); returns how many joined."""
        cur = self.db.conn.executemany(
            "INSERT OR IGNORE INTO incident_posts (post_key, incident_id, joined_at, own_card) VALUES (?, ?, ?, ?)",
            [[key, incident_id, iso(now), int(key in own_card)] for key in keys],
        )
        return int(cur.rowcount)

    @_locked
    def remove_post(self, incident_id: int, key: str) -> bool:
        cur = self.db.execute("DELETE FROM incident_posts WHERE incident_id = ? AND post_key = ?", [incident_id, key])
        return cur.rowcount == 1

    @_locked
    def incident_of(self, post_key: str) -> int | None:
        row = self.db.execute("SELECT incident_id FROM incident_posts WHERE post_key = ?", [post_key]).fetchone()
        return int(row[0]) if row else None

    @_locked
    def ref_of(self, post_key: str) -> IncidentRef | None:
        """The incident the post is in, as its queue card names it."""
        row = self.db.execute(
            "SELECT i.id, i.title, i.state FROM incident_posts ip JOIN incidents i ON i.id = ip.incident_id "
            "WHERE ip.post_key = ?",
            [post_key],
        ).fetchone()
        return IncidentRef(int(row[0]), str(row[1]), row[2] in OPEN_INCIDENT_STATES) if row else None

    @_locked
    def open_refs(self) -> tuple[IncidentRef, ...]:
        """The open incidents a queue card can be added to, newest first."""
        rows = self.db.execute(
            f"SELECT id, title FROM incidents WHERE state IN ({','.join('?' * len(OPEN_INCIDENT_STATES))}) "
            "ORDER BY id DESC",
            list(OPEN_INCIDENT_STATES),
        ).fetchall()
        return tuple(IncidentRef(int(r[0]), str(r[1])) for r in rows)

    @_locked
    def post_count(self, incident_id: int) -> int:
        """How many posts the incident covers (read from its index: ingest asks every batch)."""
        row = self.db.execute("SELECT COUNT(*) FROM incident_posts WHERE incident_id = ?", [incident_id]).fetchone()
        return int(row[0])

    @_locked
    def posts(self, incident_id: int) -> list[IncidentPost]:
        rows = self.db.execute(
            "SELECT ip.post_key, p.platform, COALESCE(p.lang, ''), COALESCE(a.handle, ''), p.text, p.created_at, "
            "ip.joined_at, q.id, q.state, ip.own_card FROM incident_posts ip JOIN posts p ON p.key = ip.post_key "
            "LEFT JOIN authors a ON a.key = p.author_key LEFT JOIN queue_items q ON q.post_key = ip.post_key "
            "WHERE ip.incident_id = ? ORDER BY p.created_at, ip.post_key",
            [incident_id],
        ).fetchall()
        return [
            IncidentPost(
                post_key=r[0],
                platform=r[1],
                lang=r[2],
                author_handle=r[3],
                text=r[4],
                created_at=from_iso(r[5]),
                joined_at=from_iso(r[6]),
                item_id=r[7],
                item_state=r[8],
                own_card=bool(r[9]),
            )
            for r in rows
        ]

    @_locked
    def carded(self, incident_id: int) -> int:
        """How many of the incident's posts have a card of their own (an outbox card row)."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM incident_posts ip JOIN queue_items q ON q.post_key = ip.post_key "
                "WHERE ip.incident_id = ? AND EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'card' AND o.item_id = q.id)",
                [incident_id],
            ).fetchone()[0]
        )

    @_locked
    def unlinked_recent(self, intent: str, *, since: datetime) -> list[tuple[str, datetime]]:
        """(key, created_at) of counted posts since `since` with `intent` that belong to no incident, oldest first."""
        rows = self.db.execute(
            "SELECT p.key, p.created_at FROM posts p LEFT JOIN incident_posts ip ON ip.post_key = p.key "
            "WHERE p.created_at >= ? AND ip.post_key IS NULL AND p.duplicate_of IS NULL AND COALESCE(p.is_own, 0) = 0 "
            "AND EXISTS (SELECT 1 FROM json_each(p.intents) WHERE json_each.value = ?) ORDER BY p.created_at",
            [iso(since), intent],
        ).fetchall()
        return [(str(r[0]), from_iso(r[1])) for r in rows]

    @_locked
    def answered_since(self, post_key: str, since: datetime, *, ours: str) -> bool:
        """Whether the post's author had another post of theirs answered individually
        after `since` (a reply not drafted as an incident's, `ours` being its LIKE pattern)."""
        row = self.db.execute(
            "SELECT 1 FROM posts me JOIN posts p ON p.author_key = me.author_key AND p.key != me.key "
            "JOIN queue_items q ON q.post_key = p.key WHERE me.key = ? AND q.state = 'replied' "
            "AND q.first_response_at > ? AND COALESCE(q.drafted_by, '') NOT LIKE ? LIMIT 1",
            [post_key, iso(since), ours],
        ).fetchone()
        return row is not None

    @_locked
    def followups_sent(self, incident_id: int) -> int:
        """How many of the incident's posts got its closing statement."""
        return int(
            self.db.execute(
                "SELECT COUNT(*) FROM replies WHERE key LIKE ? AND status = 'sent'",
                [f"{followup_prefix(incident_id)}%"],
            ).fetchone()[0]
        )

    # --- statements -----------------------------------------------------------------

    @_locked
    def save_statement(self, statement: Statement, *, now: datetime) -> None:
        """Write a statement (a new text clears its approval: four eyes see the words sent)."""
        self.db.execute(
            "INSERT INTO incident_statements (incident_id, kind, lang, text, drafted_by, approved_by, override_reason, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, kind, lang) DO UPDATE SET "
            "text = excluded.text, drafted_by = excluded.drafted_by, approved_by = excluded.approved_by, "
            "override_reason = excluded.override_reason, updated_at = excluded.updated_at",
            [
                statement.incident_id,
                statement.kind.value,
                statement.lang,
                statement.text,
                statement.drafted_by,
                statement.approved_by,
                statement.override_reason,
                iso(now),
            ],
        )

    @_locked
    def statements(self, incident_id: int, kind: StatementKind) -> dict[str, Statement]:
        """Language -> statement of this kind."""
        rows = self.db.execute(
            "SELECT lang, text, drafted_by, approved_by, override_reason FROM incident_statements "
            "WHERE incident_id = ? AND kind = ? ORDER BY lang",
            [incident_id, kind.value],
        ).fetchall()
        return {
            r[0]: Statement(incident_id, kind, r[0], r[1], r[2], approved_by=r[3], override_reason=r[4]) for r in rows
        }

    # --- timeline ---------------------------------------------------------------------

    @_locked
    def add_event(
        self,
        incident_id: int,
        action: str,
        *,
        actor: str,
        from_state: str | None,
        to_state: str | None,
        now: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO incident_events (incident_id, action, actor, from_state, to_state, at, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [incident_id, action, actor, from_state, to_state, iso(now), json.dumps(dict(detail or {}))],
        )

    @_locked
    def events(self, incident_id: int) -> list[IncidentEvent]:
        rows = self.db.execute(
            "SELECT action, actor, from_state, to_state, at, detail FROM incident_events WHERE incident_id = ? "
            "ORDER BY id",
            [incident_id],
        ).fetchall()
        return [IncidentEvent(r[0], r[1], r[2], r[3], from_iso(r[4]), json.loads(r[5] or "{}")) for r in rows]

    # --- platform waits -------------------------------------------------------------------

    @_locked
    def wait_until(self, platform: str) -> datetime | None:
        row = self.db.execute("SELECT until FROM incident_waits WHERE platform = ?", [platform]).fetchone()
        return from_iso(row[0]) if row else None

    @_locked
    def set_wait(self, platform: str, until: datetime) -> None:
        self.db.execute(
            "INSERT INTO incident_waits (platform, until) VALUES (?, ?) ON CONFLICT (platform) DO UPDATE SET "
            "until = MAX(until, excluded.until)",
            [platform, iso(until)],
        )
