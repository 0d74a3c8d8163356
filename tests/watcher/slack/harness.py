"""Signed Slack interaction payloads dispatched to the real Bolt app."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier

from watcher.slack.app import build_app
from watcher.slack.outbox import card_key
from watcher.slack.runtime import SlackRuntime

SECRET = "test-signing-secret"
_action_ts = itertools.count(1)


def signed_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, Any]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [ts],
        "x-slack-signature": [signature],
    }


def form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def envelope(kind: str, user: str) -> dict[str, Any]:
    """The fields every interaction payload carries."""
    return {
        "type": kind,
        "team": {"id": "T1", "domain": "fake"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": f"trigger-{next(_action_ts)}",
    }


def block_action(
    action_id: str,
    user: str,
    *,
    value: str | None = None,
    selected: str | None = None,
    channel: str = "CCARE",
    message_ts: str = "1.0",
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": "item",
        "action_ts": f"{time.time():.0f}.{next(_action_ts):06d}",
    }
    if value is not None:
        action.update(type="button", value=value)
    if selected is not None:
        action.update(
            type="static_select", selected_option={"text": {"type": "plain_text", "text": selected}, "value": selected}
        )
    return {
        **envelope("block_actions", user),
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "care"},
        "message": {"type": "message", "ts": message_ts, "text": "card"},
        "actions": [action],
    }


def template_pick(user: str, view: dict[str, Any], option: str) -> dict[str, Any]:
    """A template chosen in the draft modal `view` (a block action inside the modal)."""
    return {
        **envelope("block_actions", user),
        "view": view,
        "actions": [
            {
                "action_id": "pick_template",
                "block_id": "templates",
                "selected_option": {"value": option},
                "action_ts": "1.2",
            }
        ],
    }


def view_submission(callback_id: str, user: str, *, metadata: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {
        **envelope("view_submission", user),
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": json.dumps(metadata),
            "hash": f"h{next(_action_ts)}",
            "state": {"values": values},
        },
    }


class Harness:
    def __init__(self, runtime: SlackRuntime) -> None:
        self.runtime = runtime
        self.app: App = build_app(runtime, signing_secret=SECRET, process_before_response=True)

    def dispatch(self, payload: dict[str, Any]) -> BoltResponse:
        body = form(payload)
        return self.app.dispatch(BoltRequest(body=body, headers=signed_headers(body)))

    def click(self, action_id: str, item_id: int, user: str, *, choice: str | None = None) -> BoltResponse:
        card = self.runtime.store.slack_message(card_key(item_id))
        ts = card["ts"] if card else "1.0"
        if choice is None:
            return self.dispatch(block_action(action_id, user, value=str(item_id), message_ts=ts))
        return self.dispatch(block_action(action_id, user, selected=f"{item_id}:{choice}", message_ts=ts))

    def submit_draft(self, item_id: int, user: str, text: str, note: str = "", revision: int = 0) -> BoltResponse:
        values = {
            f"reply:{revision}": {"text": {"type": "plain_text_input", "value": text}},
            "note": {"note": {"type": "plain_text_input", "value": note or None}},
        }
        return self.dispatch(
            view_submission("draft_submit", user, metadata={"item_id": item_id, "revision": revision}, values=values)
        )

    def submit_reject(self, item_id: int, user: str, note: str) -> BoltResponse:
        values = {"note": {"note": {"type": "plain_text_input", "value": note}}}
        return self.dispatch(view_submission("reject_submit", user, metadata={"item_id": item_id}, values=values))
