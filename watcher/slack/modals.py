"""Block Kit for the draft and reject modals, reply templates, and the reply length a
platform takes. Pure functions, like cards.py."""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector
from watcher.core.post import Post
from watcher.core.text import plain, plain_handle
from watcher.slack.cards import OPTION_LIMIT, author_line
from watcher.slack.mrkdwn import escape, fit, quote

INPUT_LIMIT = 3000
NAME_LIMIT, HANDLE_LIMIT = 40, 30  # a {name} or {handle} in a reply template, in characters
MAX_ITEM_ID = 2**63 - 1  # SQLite's largest INTEGER
# the platforms' own limits on a public reply, in characters
REPLY_LIMITS = {
    "x": 280,
    "bluesky": 300,
    "mastodon": 500,
    "threads": 500,
    "instagram": 2200,
    "facebook": 8000,
    "linkedin": 1250,
    "reddit": 10000,
    "youtube": 10000,
    "tiktok": 150,
    "trustpilot": 2048,
}
DEFAULT_REPLY_LIMIT = 10000


def reply_limit(platform: str, connector: Connector | None = None) -> int:
    """A connector may declare `max_reply_length`; otherwise the platform's known limit."""
    declared = connector.max_reply_length if connector is not None else None
    if declared is not None and declared > 0:
        return declared
    return REPLY_LIMITS.get(platform, DEFAULT_REPLY_LIMIT)


def length_error(text: str, limit: int, platform: str, measure: Callable[[str], int] = len) -> str | None:
    """None when the reply fits; `measure` is the platform's own count when its
    connector has one (X weighs links and some characters differently)."""
    if not text.strip():
        return "The reply is empty; write the public reply."
    size = measure(text)
    if size > limit:
        return f"{size} characters: {platform} allows {limit}. Cut {size - limit}."
    return None


@dataclass(frozen=True)
class Template:
    label: str
    text: str


def templates_for(
    templates: Mapping[str, Mapping[str, Sequence[str]]], *, intents: Sequence[str], lang: str
) -> list[Template]:
    """Templates for the post's intents (then "default") in its language, then "any"."""
    found: list[Template] = []
    for intent in [*intents, "default"]:
        by_lang = templates.get(intent, {})
        for key in (lang, "any"):
            for number, text in enumerate(by_lang.get(key, ()), start=1):
                found.append(Template(f"{intent} ({key}) {number}: {text}"[:OPTION_LIMIT], text))
    return found


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_template(text: str, *, post: Post, brand: str, agent: str = "") -> str:
    # a stranger chose their name and handle: only plain words reach the brand's public reply
    handle = plain_handle(post.author.handle, HANDLE_LIMIT)
    values = _Blank(
        handle="@" + handle if handle else "",
        name=plain(post.author.display_name, NAME_LIMIT) or handle,
        brand=brand,
        platform=post.platform,
        agent=agent,
    )
    return string.Formatter().vformat(text, (), values)


@dataclass(frozen=True)
class DraftForm:
    item_id: int
    post: Post
    limit: int
    templates: tuple[Template, ...] = ()
    text: str = ""
    note: str = ""
    revision: int = 0
    errors: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # the promise check of `text`: each phrase and why
    checked: str = ""  # the digest of the text whose warnings were shown: saving it again keeps it
    preselected: int | None = None  # the template shown as chosen (the post's prepared answer)


def draft_modal(form: DraftForm) -> dict[str, Any]:
    """The Draft reply modal. The reply input's block id carries a revision number:
    picking a template bumps it, which is how Slack lets us replace typed text."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": author_line(form.post) + "\n" + quote(form.post.text, 1500)},
        },
    ]
    if form.templates:
        options = [
            {"text": {"type": "plain_text", "text": t.label}, "value": str(i)}
            for i, t in enumerate(form.templates[:100])
        ]
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": "pick_template",
            "placeholder": {"type": "plain_text", "text": "Start from a template"},
            "options": options,
        }
        if form.preselected is not None and form.preselected < len(options):
            select["initial_option"] = options[form.preselected]
        blocks.append({"type": "actions", "block_id": "templates", "elements": [select]})
    if form.warnings:
        lines = "\n".join(f"• {escape(w)}" for w in form.warnings)
        text = f":warning: *This reply promises what needs approval:*\n{lines}\nReword it, or save it again: approving it will need a reason."
        blocks.append(
            {
                "type": "section",
                "block_id": "promises",
                "text": {"type": "mrkdwn", "text": fit(text, 3000, escaped=False)},
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": f"reply:{form.revision}",
            "label": {
                "type": "plain_text",
                "text": f"Public reply on {form.post.platform} (max {form.limit} characters)",
            },
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": True,
                # Slack's own cap only: the platform limit is checked on submit with a clear message,
                # and a template longer than the limit must still open
                "max_length": INPUT_LIMIT,
                **({"initial_value": form.text[:INPUT_LIMIT]} if form.text else {}),
            },
        }
    )
    blocks.append(
        {
            "type": "input",
            "block_id": "note",
            "optional": True,
            "label": {"type": "plain_text", "text": "Internal note (never posted)"},
            "element": {
                "type": "plain_text_input",
                "action_id": "note",
                "multiline": True,
                **({"initial_value": form.note[:INPUT_LIMIT]} if form.note else {}),
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": "draft_submit",
        "title": {"type": "plain_text", "text": f"Reply to #{form.item_id}"},
        "submit": {"type": "plain_text", "text": "Save draft"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(
            {"item_id": form.item_id, "revision": form.revision, **({"checked": form.checked} if form.checked else {})}
        ),
        "blocks": blocks,
    }


def reject_modal(item_id: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "reject_submit",
        "title": {"type": "plain_text", "text": f"Reject draft #{item_id}"},
        "submit": {"type": "plain_text", "text": "Return to drafter"},
        "private_metadata": json.dumps({"item_id": item_id}),
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "What should change?"},
                "element": {"type": "plain_text_input", "action_id": "note", "multiline": True},
            }
        ],
    }


def parse_item_id(raw: object) -> int:
    """A queue item id as a button or a modal carries it; ValueError for anything else
    (a forged or old payload gets an answer, not a traceback)."""
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ITEM_ID):
        raise ValueError(f"{text[:30]!r} is not a queue item; the form or card may be from an older version.")
    return int(text)


def view_metadata(view: Mapping[str, Any]) -> tuple[int, int]:
    """(item id, revision) from the private_metadata the draft and reject modals write."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise ValueError("This form carries no queue item; it may be from an older version. Open it again.")
    revision = meta.get("revision", 0)
    return parse_item_id(meta.get("item_id")), revision if isinstance(revision, int) and 0 <= revision < 10**6 else 0


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def checked_digest(view: Mapping[str, Any]) -> str:
    """The digest of the text whose promise warnings the draft modal showed ("" if none)."""
    try:
        meta = json.loads(view.get("private_metadata") or "")
    except ValueError:
        return ""
    return str(meta.get("checked") or "") if isinstance(meta, dict) else ""


def reply_block_id(view: Mapping[str, Any]) -> str:
    """The draft modal's reply input (its id carries the revision): where its errors show."""
    return next((b for b in view.get("state", {}).get("values", {}) if b.startswith("reply:")), "reply:0")


def submitted_draft(view: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """(item id, reply text, note, reply block id) from a draft modal submission;
    ValueError when the form carries no queue item."""
    values = view.get("state", {}).get("values", {})
    block_id = reply_block_id(view)
    text = (values.get(block_id, {}).get("text", {}).get("value") or "").strip()
    note = (values.get("note", {}).get("note", {}).get("value") or "").strip()
    return view_metadata(view)[0], text, note, block_id
