"""What people do to an incident: open or ignore a suggestion, move it along, write and
approve its statements (four eyes, promise-checked), add or take out posts, resolve it.
Each step is one compare-and-set on the incident's version and one timeline event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from watcher.core.incident import Incident, IncidentState, Statement, StatementKind
from watcher.core.post import utc_now
from watcher.incidents.detect import enqueue_incident_update
from watcher.incidents.promises import PromiseFound, PromiseList, warning_lines
from watcher.store import Store

S = IncidentState
# which state each step may start from; resolving is allowed from any open state
MOVES: dict[IncidentState, frozenset[IncidentState]] = {
    S.INVESTIGATING: frozenset({S.SUGGESTED, S.IGNORED, S.IDENTIFIED, S.MONITORING}),
    S.IGNORED: frozenset({S.SUGGESTED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MONITORING}),
    S.MONITORING: frozenset({S.INVESTIGATING, S.IDENTIFIED}),
    S.RESOLVED: frozenset({S.INVESTIGATING, S.IDENTIFIED, S.MONITORING}),
}


class IncidentError(Exception):
    """A step refused; the message says why and what to do."""


@dataclass(frozen=True)
class StatementCheck:
    """The promise check of each language's text."""

    found: Mapping[str, list[PromiseFound]]

    @property
    def warnings(self) -> list[str]:
        return [f"{lang}: {line}" for lang, found in self.found.items() for line in warning_lines(found)]


class Incidents:
    def __init__(self, store: Store, promises: PromiseList, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.promises = promises
        self.clock = clock

    def get(self, incident_id: int) -> Incident:
        incident = self.store.incidents.get(incident_id)
        if incident is None:
            raise IncidentError(f"incident {incident_id} does not exist")
        return incident

    def move(self, incident_id: int, to: IncidentState, actor: str, *, note: str = "") -> Incident:
        """Open (investigating), ignore, identified, monitoring or resolved; a repeat is a no-op."""
        incident = self.get(incident_id)
        if incident.state == to:
            return incident
        if incident.state not in MOVES.get(to, frozenset()):
            raise IncidentError(f"incident {incident_id} is {incident.state.value}; it cannot become {to.value}")
        now = self.clock()
        changes: dict[str, object] = {}
        if to == S.INVESTIGATING and incident.opened_by is None:
            changes["opened_by"] = actor
        if to == S.RESOLVED:
            changes["resolved_at"] = now
        if not self.store.incidents.move(
            incident, to, actor=actor, now=now, changes=changes, detail={"note": note} if note else {}
        ):
            raise IncidentError(f"incident {incident_id} was changed by someone else; refresh and try again")
        moved = self.get(incident_id)
        enqueue_incident_update(self.store, moved, now=now, reason=f"v{moved.version}")
        return moved

    def check(self, texts: Mapping[str, str]) -> StatementCheck:
        return StatementCheck(
            {lang: found for lang, text in texts.items() if (found := self.promises.check(text, lang))}
        )

    def write_statement(
        self, incident_id: int, kind: StatementKind, texts: Mapping[str, str], actor: str
    ) -> StatementCheck:
        """Save the texts per language (any earlier approval is cleared: the approver must
        see the words that go out) and return their promise check."""
        incident = self.get(incident_id)
        texts = {lang: text.strip() for lang, text in texts.items() if text.strip()}
        if not texts:
            raise IncidentError("the statement is empty; write it in at least one language")
        now = self.clock()
        result = self.check(texts)
        with self.store.transaction():
            for lang, text in texts.items():
                self.store.incidents.save_statement(Statement(incident_id, kind, lang, text, actor), now=now)
            self.store.incidents.add_event(
                incident_id,
                f"{kind.value}_statement_written",
                actor=actor,
                from_state=incident.state,
                to_state=incident.state,
                now=now,
                detail={"languages": sorted(texts), "warnings": result.warnings},
            )
            enqueue_incident_update(self.store, incident, now=now, reason=f"{kind.value}:{now.isoformat()}")
        return result

    def approve_statement(self, incident_id: int, kind: StatementKind, actor: str, *, reason: str = "") -> None:
        """Four eyes: someone other than the writer approves; past a promise warning only
        with a reason, which the timeline keeps."""
        incident = self.get(incident_id)
        statements = self.store.incidents.statements(incident_id, kind)
        if not statements:
            raise IncidentError(f"incident {incident_id} has no {kind.value} statement to approve; write it first")
        own = sorted(lang for lang, s in statements.items() if s.drafted_by == actor)
        if own:
            raise IncidentError(f"you wrote the {', '.join(own)} statement: someone else must approve it (four eyes)")
        check = self.check({lang: s.text for lang, s in statements.items()})
        if check.found and not reason.strip():
            raise IncidentError(
                "the statement promises what needs approval: "
                + "; ".join(check.warnings)
                + ". Reword it, or give a reason for approving it as it is."
            )
        now = self.clock()
        with self.store.transaction():
            for statement in statements.values():
                self.store.incidents.save_statement(
                    Statement(
                        incident_id,
                        kind,
                        statement.lang,
                        statement.text,
                        statement.drafted_by,
                        approved_by=actor,
                        override_reason=reason.strip() if check.found else "",
                    ),
                    now=now,
                )
            self.store.incidents.add_event(
                incident_id,
                f"{kind.value}_statement_approved",
                actor=actor,
                from_state=incident.state,
                to_state=incident.state,
                now=now,
                detail={"languages": sorted(statements), "warnings": check.warnings, "reason": reason.strip()},
            )
            enqueue_incident_update(self.store, incident, now=now, reason=f"approved:{kind.value}:{now.isoformat()}")

    def add_post(self, incident_id: int, post_key: str, actor: str) -> bool:
        """An agent adds a card's post to the incident (a post belongs to one incident)."""
        current = self.store.incidents.incident_of(post_key)
        if current is not None and current != incident_id:
            raise IncidentError(f"that post belongs to incident {current}; take it out of that one first")
        incident = self.get(incident_id)
        if not incident.is_open:
            raise IncidentError(f"incident {incident_id} is {incident.state.value}; only an open incident takes posts")
        return self._change_posts(incident_id, post_key, actor, add=True)

    def remove_post(self, incident_id: int, post_key: str, actor: str) -> bool:
        """An agent takes a post out: it is answered on its own card again."""
        return self._change_posts(incident_id, post_key, actor, add=False)

    def _change_posts(self, incident_id: int, post_key: str, actor: str, *, add: bool) -> bool:
        incident = self.get(incident_id)
        now = self.clock()
        with self.store.transaction():
            if add:
                changed = self.store.incidents.add_posts(incident_id, [post_key], now=now) == 1
            else:
                changed = self.store.incidents.remove_post(incident_id, post_key)
            if changed:
                action = "post_added" if add else "post_removed"
                self.store.incidents.add_event(
                    incident_id,
                    action,
                    actor=actor,
                    from_state=None,
                    to_state=None,
                    now=now,
                    detail={"post_key": post_key},
                )
                enqueue_incident_update(self.store, incident, now=now, reason=f"{action}:{post_key}:{now.isoformat()}")
        return changed
