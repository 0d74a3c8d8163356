"""The incident card's buttons and modals: open or ignore a suggestion, write the
statement per language, approve it (someone else; past a promise warning only with a
reason), answer everyone, resolve. `INCIDENT_LISTENERS` joins the listeners table in
app.py, each entry behind its role like every other listener."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

from watcher.core.incident import OPEN_INCIDENT_STATES, IncidentState, StatementKind
from watcher.core.item import OutboxRow
from watcher.incidents.actions import IncidentError, Incidents
from watcher.incidents.detect import enqueue_incident_update
from watcher.incidents.fanout import FanOut, FanOutReport
from watcher.incidents.promises import bundled_promises
from watcher.notify.outbox import DeliveryFailed, DeliveryRetry, retry_time
from watcher.slack.incident_cards import (
    approve_modal,
    statement_modal,
    submitted_kind,
    submitted_reason,
    submitted_statement,
)
from watcher.slack.listeners import Ack, ActionHandler, ActionListener, ViewListener, _item_id, _tell, open_modal
from watcher.slack.permissions import Role
from watcher.slack.runtime import SlackRuntime

log = logging.getLogger(__name__)


def incidents_of(runtime: SlackRuntime) -> Incidents:
    return Incidents(runtime.store, bundled_promises(), clock=runtime.clock)


def redraw_incident(runtime: SlackRuntime, incident_id: int) -> None:
    """Update the incident card now; if Slack cannot take it now, the outbox row waits."""
    incident = runtime.store.incidents.get(incident_id)
    if incident is None:
        return
    now = runtime.clock()
    row_id = enqueue_incident_update(runtime.store, incident, now=now, reason=f"redraw:{now.isoformat()}")
    if row_id is None:
        return
    row = OutboxRow(row_id, "incident_update", "", "", None, {"incident_id": incident_id})
    try:
        ref = runtime.notifier.deliver(row)
    except DeliveryRetry as exc:
        runtime.store.outbox.mark_outbox_retry(row_id, next_attempt_at=retry_time(exc, runtime.clock()), error=str(exc))
        return
    except DeliveryFailed as exc:
        runtime.store.outbox.mark_outbox_failed(row_id, error=str(exc))
        return
    runtime.store.outbox.mark_outbox_sent(row_id, ref=ref, now=runtime.clock())


def _incident_id(action: Mapping[str, Any]) -> int:
    return int(str(action.get("value") or "0").partition(":")[0])


def _kind(action: Mapping[str, Any]) -> StatementKind:
    """The statement a button is about: "<id>" the first, "<id>:closing" the closing one."""
    tail = str(action.get("value") or "").partition(":")[2]
    return StatementKind.CLOSING if tail == StatementKind.CLOSING.value else StatementKind.FIRST


def _card_and_incident(action: Mapping[str, Any]) -> tuple[int, int]:
    """A queue card's incident menu or button carries "<item id>:<incident id>"."""
    item_id, incident = _item_id(action)
    return item_id, int(incident)


def card_incident(add: bool) -> ActionHandler:
    """Add a queue card's post to an open incident, or take it out (the incident's timeline
    keeps who and when); both cards are redrawn."""

    def handle(
        runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
    ) -> None:
        try:
            item_id, incident_id = _card_and_incident(action)
        except ValueError:
            _tell(client, body, "That menu carried no queue item; the card may be from an older version.")
            return
        item = runtime.store.items.get_item(item_id)
        if item is None:
            _tell(client, body, f"Queue item {item_id} no longer exists.")
            return
        incidents = incidents_of(runtime)
        try:
            if add:
                changed = incidents.add_post(incident_id, item.post_key, user)
            else:
                changed = incidents.remove_post(incident_id, item.post_key, user)
        except IncidentError as exc:
            _tell(client, body, str(exc))
            return
        if changed:
            runtime.redraw(
                item_id, reason=f"incident:{incident_id}:{'in' if add else 'out'}:{runtime.clock().isoformat()}"
            )
            redraw_incident(runtime, incident_id)

    return handle


def incident_step(to: IncidentState) -> ActionHandler:
    """A button that moves the incident (open, ignore, resolve)."""

    def handle(
        runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
    ) -> None:
        incident_id = _incident_id(action)
        try:
            incidents_of(runtime).move(incident_id, to, user)
        except IncidentError as exc:
            _tell(client, body, str(exc))
            return
        redraw_incident(runtime, incident_id)

    return handle


def open_statement(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, _: str
) -> None:
    incidents = incidents_of(runtime)
    try:
        incident = incidents.get(_incident_id(action))
    except IncidentError as exc:
        _tell(client, body, str(exc))
        return
    kind = _kind(action)
    current = runtime.store.incidents.statements(incident.id, kind)
    langs = sorted({p.lang for p in runtime.store.incidents.posts(incident.id) if p.lang} | set(current))
    warnings = incidents.check({lang: s.text for lang, s in current.items()}).warnings
    open_modal(client, body, statement_modal(incident, langs or ["en"], current, warnings, kind))


def submit_statement(runtime: SlackRuntime, ack: Ack, body: dict[str, Any], view: dict[str, Any], user: str) -> None:
    incident_id, texts = submitted_statement(view)
    try:
        incidents_of(runtime).write_statement(incident_id, submitted_kind(view), texts, user)
    except IncidentError as exc:
        first = next(iter(texts), "en")
        ack(response_action="errors", errors={f"lang:{first}": str(exc)})
        return
    ack()
    redraw_incident(runtime, incident_id)


def approve_statement(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
) -> None:
    incidents = incidents_of(runtime)
    incident_id, kind = _incident_id(action), _kind(action)
    statements = runtime.store.incidents.statements(incident_id, kind)
    warnings = incidents.check({lang: s.text for lang, s in statements.items()}).warnings
    try:
        if warnings and not any(s.drafted_by == user for s in statements.values()):
            open_modal(client, body, approve_modal(incidents.get(incident_id), warnings, kind))
            return
        incidents.approve_statement(incident_id, kind, user)
    except IncidentError as exc:
        _tell(client, body, str(exc))
        return
    redraw_incident(runtime, incident_id)


def submit_approval(runtime: SlackRuntime, ack: Ack, body: dict[str, Any], view: dict[str, Any], user: str) -> None:
    incident_id = int(json.loads(view["private_metadata"])["incident_id"])
    reason = submitted_reason(view)
    try:
        incidents_of(runtime).approve_statement(incident_id, submitted_kind(view), user, reason=reason)
    except IncidentError as exc:
        ack(response_action="errors", errors={"reason": str(exc)})
        return
    ack()
    redraw_incident(runtime, incident_id)


def fan_out(runtime: SlackRuntime) -> FanOut:
    return FanOut(
        runtime.store,
        runtime.connector_for,
        clock=runtime.clock,
        sends_per_minute=runtime.config.incidents.sends_per_minute,
        sleep=runtime.sleep,
    )


def answer_everyone(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
) -> None:
    incident_id = _incident_id(action)
    _report(runtime, client, body, incident_id, fan_out(runtime).run(incident_id, actor=user), "answered")


def answer_late_joiners(runtime: SlackRuntime) -> int:
    """With `late_joiners = "send"`, posts that joined an open incident after its statement
    went out get it on the Slack tick, through the same exactly-once fan-out (sent in the
    approver's name); with "approve" they wait for the next Answer everyone click."""
    if runtime.config.incidents.late_joiners != "send":
        return 0
    sent = 0
    for incident in runtime.store.incidents.active(OPEN_INCIDENT_STATES):
        if incident.first_statement_at is not None:
            sent += fan_out(runtime).run(incident.id, joined_after=incident.first_statement_at).sent
    return sent


def send_follow_ups(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
) -> None:
    """Resolved: the closing statement to everyone who got the first one (exactly once each)."""
    incident_id = _incident_id(action)
    incident = runtime.store.incidents.get(incident_id)
    if incident is None or incident.state != IncidentState.RESOLVED:
        _tell(client, body, f"Incident #{incident_id} is not resolved: resolve it before the follow-ups go out.")
        return
    _report(runtime, client, body, incident_id, fan_out(runtime).follow_ups(incident_id, actor=user), "followed up")


def _report(
    runtime: SlackRuntime, client: WebClient, body: dict[str, Any], incident_id: int, report: FanOutReport, verb: str
) -> None:
    parts = [f"{report.sent} {verb} now", f"{report.already} {verb} before"]
    if report.blocked:
        waits = ", ".join(f"{platform} until {until:%H:%M} UTC" for platform, until in sorted(report.blocked.items()))
        parts.append(f"{report.waiting} waiting ({waits}); click again after that")
    elif report.waiting:
        parts.append(f"{report.waiting} waiting for another send; click again shortly")
    if report.no_statement:
        parts.append(f"{report.no_statement} without an approved statement in their language")
    if report.failed:
        parts.append(f"{report.failed} failed (their cards say why)")
    if report.left_to_agents:
        parts.append(f"{report.left_to_agents} left to agents (own card, a draft of their own, or answered since)")
    _tell(client, body, f"Incident #{incident_id}: " + "; ".join(parts) + ".")
    redraw_incident(runtime, incident_id)


INCIDENT_LISTENERS: tuple[ActionListener | ViewListener, ...] = (
    ActionListener("incident_open", Role.MODERATOR, incident_step(IncidentState.INVESTIGATING)),
    ActionListener("incident_ignore", Role.MODERATOR, incident_step(IncidentState.IGNORED)),
    ActionListener("incident_resolve", Role.MODERATOR, incident_step(IncidentState.RESOLVED)),
    ActionListener("incident_statement", Role.MODERATOR, open_statement),
    ViewListener("incident_statement_submit", Role.MODERATOR, submit_statement, lambda _view: "lang:en"),
    ActionListener("incident_approve", Role.APPROVER, approve_statement),
    ViewListener("incident_approve_submit", Role.APPROVER, submit_approval, lambda _view: "reason"),
    ActionListener("incident_answer", Role.APPROVER, answer_everyone),
    ActionListener("incident_follow_up", Role.APPROVER, send_follow_ups),
    ActionListener("incident_add", Role.MODERATOR, card_incident(add=True)),
    ActionListener("incident_remove", Role.MODERATOR, card_incident(add=False)),
)
