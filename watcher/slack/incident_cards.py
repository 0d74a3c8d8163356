"""Block Kit for incidents: the card (suggested, open, resolved; counters, examples,
statements, progress) and the statement and approval modals. Pure functions, like cards.py."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from watcher.core.incident import Incident, IncidentPost, IncidentRef, IncidentState, Statement, StatementKind
from watcher.slack.mrkdwn import escape, fit, mention

EXAMPLES = 3
# queue card states in which a card can go into an incident or come out of one
MOVABLE_ITEM_STATES = ("new", "snoozed", "claimed", "drafted", "failed")
INCIDENT_MENU_LIMIT = 100  # Slack's limit on a select's options
OPEN_STEPS = (IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING)


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    posts: Sequence[IncidentPost]
    statements: Mapping[str, Statement]  # the first statement, per language
    warnings: Sequence[str] = ()  # the promise check of the statements
    answered: int = 0
    to_answer: int = 0
    closing: Mapping[str, Statement] = field(default_factory=dict)  # the closing statement, per language
    followups: int = 0  # closing statements sent


def incident_text(view: IncidentView) -> str:
    incident = view.incident
    if incident.state == IncidentState.SUGGESTED:
        return f"Incident suggested: {incident.title} ({len(view.posts)} posts)"
    return f"Incident #{incident.id}: {incident.title} ({incident.state.value}, {len(view.posts)} posts)"


def _counts(values: Sequence[str]) -> str:
    return ", ".join(f"{name or '?'} {n}" for name, n in Counter(values).most_common())


def _speed(posts: Sequence[IncidentPost]) -> str:
    if len(posts) < 2:
        return f"{len(posts)} post"
    span = max(p.created_at for p in posts) - min(p.created_at for p in posts)
    minutes = max(1, round(span.total_seconds() / 60))
    return f"{len(posts)} posts in {minutes} min"


def button(
    text: str, action_id: str, incident_id: int, style: str = "", kind: StatementKind = StatementKind.FIRST
) -> dict[str, Any]:
    """An incident button; one about the closing statement carries "<id>:closing"."""
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": str(incident_id) if kind == StatementKind.FIRST else f"{incident_id}:{kind.value}",
    }
    if style:
        element["style"] = style
    return element


def incident_controls(
    item_id: int, state: str, current: IncidentRef | None, open_incidents: Sequence[IncidentRef]
) -> list[dict[str, Any]]:
    """A queue card's way into an open incident (a menu) or out of its own (a button);
    values are "<item id>:<incident id>". A post stays in a suggested, ignored or resolved
    incident (a post is in one incident), so such a card offers neither."""
    if state not in MOVABLE_ITEM_STATES or (current is not None and not current.is_open):
        return []
    if current is not None:
        text = f"Take out of incident #{current.id}"
        return [
            {"type": "button", "text": _plain(text), "action_id": "incident_remove", "value": f"{item_id}:{current.id}"}
        ]
    if not open_incidents:
        return []
    options = [
        {"text": _plain(f"#{ref.id} {ref.title}"), "value": f"{item_id}:{ref.id}"}
        for ref in open_incidents[:INCIDENT_MENU_LIMIT]
    ]
    return [
        {
            "type": "static_select",
            "action_id": "incident_add",
            "placeholder": _plain("Add to incident…"),
            "options": options,
        }
    ]


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def incident_blocks(view: IncidentView) -> list[dict[str, Any]]:
    incident, posts = view.incident, view.posts
    title = incident_text(view)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(title, 150, escaped=False)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*How many, how fast*\n{_speed(posts)}"},
                {"type": "mrkdwn", "text": f"*Languages*\n{_counts([p.lang for p in posts])}"},
                {"type": "mrkdwn", "text": f"*Platforms*\n{_counts([p.platform for p in posts])}"},
                {"type": "mrkdwn", "text": f"*State*\n{incident.state.value}"},
            ],
        },
    ]
    for post in posts[:EXAMPLES]:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{post.platform} @{escape(post.author_handle)}: {fit(post.text, 280)}"}
                ],
            }
        )
    if view.statements:
        lines = []
        for lang, statement in sorted(view.statements.items()):
            state = f"approved by {mention(statement.approved_by)}" if statement.approved_by else "waiting for approval"
            lines.append(f"*{lang}* ({state}): {fit(statement.text, 300)}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if view.closing:
        lines = [f"*Closing, {lang}*: {fit(s.text, 300)}" for lang, s in sorted(view.closing.items())]
        if view.followups:
            lines.append(f"Follow-ups sent: {view.followups}")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if view.warnings:
        text = ":warning: *Promises that need approval*\n" + "\n".join(f"• {escape(w)}" for w in view.warnings)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit(text, 3000, escaped=False)}})
    if view.to_answer and incident.state != IncidentState.SUGGESTED:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Answered {view.answered} of {view.to_answer} posts"}],
            }
        )
    actions = _actions(view)
    if actions:
        blocks.append({"type": "actions", "block_id": f"incident:{incident.id}", "elements": actions})
    return blocks


def _actions(view: IncidentView) -> list[dict[str, Any]]:
    incident = view.incident
    if incident.state == IncidentState.SUGGESTED:
        return [
            button("Open incident", "incident_open", incident.id, "primary"),
            button("Ignore", "incident_ignore", incident.id),
        ]
    if incident.state == IncidentState.RESOLVED:
        return _closing_actions(view)
    if incident.state not in OPEN_STEPS:
        return []
    actions = [button("Write statement", "incident_statement", incident.id)]
    statements = view.statements.values()
    if statements and not all(s.approved_by for s in statements):
        actions.append(button("Approve statement", "incident_approve", incident.id, "primary"))
    if statements and all(s.approved_by for s in statements) and view.answered < view.to_answer:
        actions.append(button("Answer everyone", "incident_answer", incident.id, "primary"))
    actions.append(button("Resolve", "incident_resolve", incident.id, "danger"))
    return actions


def _closing_actions(view: IncidentView) -> list[dict[str, Any]]:
    """Resolved: write the closing statement, have it approved, send the follow-ups."""
    closing, incident_id = view.closing.values(), view.incident.id
    actions = [button("Write closing statement", "incident_statement", incident_id, kind=StatementKind.CLOSING)]
    if closing and not all(s.approved_by for s in closing):
        actions.append(
            button("Approve closing statement", "incident_approve", incident_id, "primary", StatementKind.CLOSING)
        )
    if closing and all(s.approved_by for s in closing):
        actions.append(button("Send follow-ups", "incident_follow_up", incident_id, "primary", StatementKind.CLOSING))
    return actions


@cache
def _templates() -> dict[str, dict[str, str]]:
    """The bundled statement templates (package data: read once, never edited at run time)."""
    data = tomllib.loads(files("watcher").joinpath("data/incident_templates.toml").read_text(encoding="utf-8"))
    return {intent: dict(texts) for intent, texts in data.items()}


def statement_template(intent: str, lang: str, kind: StatementKind = StatementKind.FIRST) -> str:
    templates = _templates()
    key = "closing" if kind == StatementKind.CLOSING else intent
    return templates.get(key, templates["default"]).get(lang) or templates["default"].get(lang, "")


def statement_modal(
    incident: Incident,
    langs: Sequence[str],
    current: Mapping[str, Statement],
    warnings: Sequence[str] = (),
    kind: StatementKind = StatementKind.FIRST,
) -> dict[str, Any]:
    """One text per language of the incident's posts, prefilled from the current statement or a template."""
    blocks: list[dict[str, Any]] = []
    if warnings:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": ":warning: " + "\n".join(escape(w) for w in warnings)},
            }
        )
    for lang in langs:
        text = current[lang].text if lang in current else statement_template(incident.intent, lang, kind)
        blocks.append(
            {
                "type": "input",
                "block_id": f"lang:{lang}",
                "optional": True,
                "label": {"type": "plain_text", "text": f"Statement ({lang})"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "initial_value": text,
                    "max_length": 3000,
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": "incident_statement_submit",
        "private_metadata": json.dumps({"incident_id": incident.id, "kind": kind.value}),
        "title": {
            "type": "plain_text",
            "text": "Closing statement" if kind == StatementKind.CLOSING else "Incident statement",
        },
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": blocks,
    }


def approve_modal(
    incident: Incident, warnings: Sequence[str], kind: StatementKind = StatementKind.FIRST
) -> dict[str, Any]:
    """Approving a statement past a promise warning."""
    metadata = {"incident_id": incident.id, "kind": kind.value}
    return reason_modal("incident_approve_submit", metadata, warnings, title="Approve statement", what="statement")


def reason_modal(
    callback_id: str, metadata: Mapping[str, Any], warnings: Sequence[str], *, title: str, what: str
) -> dict[str, Any]:
    """Approving past a promise warning (a statement or a single reply): each phrase and
    why, and the reason, which the audit log keeps."""
    lines = "\n".join(f"• {escape(w)}" for w in warnings)
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(dict(metadata)),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Approve"},
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": fit(f"*The {what} promises:*\n{lines}", 3000, escaped=False)},
            },
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Why approve it as it is?"},
                "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True},
            },
        ],
    }


def submitted_reason(view: Mapping[str, Any]) -> str:
    return str(view["state"]["values"].get("reason", {}).get("reason", {}).get("value") or "").strip()


def submitted_kind(view: Mapping[str, Any]) -> StatementKind:
    """Which statement a statement or approval modal is about (older modals: the first)."""
    kind = str(json.loads(view["private_metadata"]).get("kind") or StatementKind.FIRST.value)
    return StatementKind(kind) if kind in {k.value for k in StatementKind} else StatementKind.FIRST


def submitted_statement(view: Mapping[str, Any]) -> tuple[int, dict[str, str]]:
    incident_id = int(json.loads(view["private_metadata"])["incident_id"])
    texts = {}
    for block_id, block in view["state"]["values"].items():
        if block_id.startswith("lang:"):
            texts[block_id.removeprefix("lang:")] = str(block["text"].get("value") or "")
    return incident_id, texts
