"""The Bolt listeners: buttons and modals on queue cards drive `watcher.queue.machine.Queue`.

`LISTENERS` is the table of every listener with the `Role` it needs; `register` wraps
each one in the same check (watcher.slack.permissions), so none can skip it. A click is
acknowledged first (Slack allows 3 seconds), applied as one queue transition
(idempotent: a double click or two agents at once yield one winner), and the card is
redrawn in place. A modal opens only for an action the transition table allows now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from watcher.core.item import QueueItem
from watcher.core.post import Post
from watcher.incidents.emotions import emotion_of, prepared_answers
from watcher.incidents.promises import reply_warnings
from watcher.queue.machine import QueueError, Transition
from watcher.queue.transitions import Action, require
from watcher.slack.cards import escape, group_mention, mention
from watcher.slack.incident_cards import reason_modal, submitted_reason
from watcher.slack.modals import (
    OPTION_LIMIT,
    DraftForm,
    Template,
    checked_digest,
    draft_modal,
    length_error,
    parse_item_id,
    reject_modal,
    render_template,
    reply_block_id,
    submitted_draft,
    templates_for,
    text_digest,
    view_metadata,
)
from watcher.slack.permissions import Refused, Role
from watcher.slack.runtime import SlackRuntime
from watcher.slack.sla import snooze_until

log = logging.getLogger(__name__)

Ack = Callable[..., Any]
# a block action's handler: (runtime, body, action, client, user); the role is checked before it runs
ActionHandler = Callable[[SlackRuntime, dict[str, Any], dict[str, Any], WebClient, str], None]
# a modal submission's handler: (runtime, ack, body, view, user)
ViewHandler = Callable[[SlackRuntime, Ack, dict[str, Any], dict[str, Any], str], None]
# a card button's queue step: (runtime, item id, user, the select's choice) -> the transition
CardStep = Callable[[SlackRuntime, int, str, str], Transition | None]


@dataclass(frozen=True)
class ActionListener:
    action_id: str
    role: Role
    handle: ActionHandler


@dataclass(frozen=True)
class ViewListener:
    callback_id: str
    role: Role
    handle: ViewHandler
    error_block: Callable[[Mapping[str, Any]], str]  # where a refusal shows in the modal


# --- card buttons -----------------------------------------------------------------------


def _item_id(action: Mapping[str, Any]) -> tuple[int, str]:
    """Buttons carry "<id>", selects "<id>:<choice>"."""
    raw = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    item, _, choice = raw.partition(":")
    return parse_item_id(item), choice


def card_button(name: str, step: CardStep) -> ActionHandler:
    """A card button: one queue step, refusals told to the user alone, then the card redrawn."""

    def handle(
        runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
    ) -> None:
        try:
            item_id, choice = _item_id(action)
        except ValueError:
            _tell(client, body, f"That {name} button carried no queue item; the card may be from an older version.")
            return
        try:
            step(runtime, item_id, user, choice)
        except QueueError as exc:
            _tell(client, body, str(exc))
            return
        except Exception:
            log.exception("the %s button failed on item %s for %s", name, item_id, user)
            _tell(
                client,
                body,
                f"{name.title()} on #{item_id} failed on our side; see the watcher log. The card shows where it stands.",
            )
        runtime.redraw(item_id)

    return handle


def claim(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    return runtime.queue.claim(item_id, user)


def unclaim(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    return runtime.queue.unclaim(item_id, user)


def dismiss(runtime: SlackRuntime, item_id: int, user: str, reason: str) -> Transition:
    return runtime.queue.dismiss(item_id, user, reason)


def escalate(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    result = runtime.queue.escalate(item_id, user)
    if result.changed:  # the scheduler's next flush posts the copy (one flusher: nothing posted twice)
        runtime.notifier.enqueue_escalation(result.item, now=runtime.clock())
    return result


def snooze(runtime: SlackRuntime, item_id: int, user: str, choice: str) -> Transition:
    try:
        until = snooze_until(choice, now=runtime.clock(), hours=runtime.hours)
    except ValueError as exc:
        raise QueueError(str(exc)) from None
    return runtime.queue.snooze(item_id, user, until)


def hide(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    return runtime.hide(item_id, user, hidden=True)


def unhide(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    return runtime.hide(item_id, user, hidden=False)


def approve(runtime: SlackRuntime, item_id: int, user: str, reason: str = "") -> Transition:
    runtime.queue.approve(item_id, user, reason=reason)
    runtime.redraw(item_id)  # "Approved; sending" shows while the platform call runs
    return _sent(runtime, runtime.send(item_id, user, require_approval=True), user)


def send(runtime: SlackRuntime, item_id: int, user: str, _: str) -> Transition:
    item = runtime.queue.item(item_id)
    needs = runtime.approval_required(item)
    if needs and item.state == "drafted":
        raise QueueError(f"#{item_id} is {item.priority}: an approver must use Approve & send.")
    warnings = draft_warnings(runtime, item) if item.state == "drafted" else []
    if warnings:
        raise QueueError(
            f"#{item_id} promises what needs approval ({'; '.join(warnings)}): "
            "an approver must use Approve & send and give a reason, or reword it."
        )
    return _sent(runtime, runtime.send(item_id, user, require_approval=needs), user)


def _sent(runtime: SlackRuntime, result: Transition, user: str) -> Transition:
    item = result.item
    if result.changed and item.state == "failed":
        who = {mention(user), mention(item.drafted_by)}
        error = escape(item.last_error or "unknown error")
        runtime.note(item, "failed", f"{' '.join(sorted(who))} the reply was not posted: {error}")
    return result


def open_approve(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, user: str
) -> None:
    """Approve & send; a draft that promises what needs approval first asks why (the
    incident statement's reason modal), and the reason goes into the approve event."""
    try:
        item_id, _choice = _item_id(action)
        item = runtime.queue.item(item_id)
    except (ValueError, QueueError):
        item = None
    warnings = draft_warnings(runtime, item) if item is not None and item.state == "drafted" else []
    if item is None or not warnings:
        card_button("approve", approve)(runtime, body, action, client, user)
        return
    modal = reason_modal("approve_reason_submit", {"item_id": item.id}, warnings, title="Approve reply", what="reply")
    open_modal(client, body, modal)


def submit_approve_reason(
    runtime: SlackRuntime, ack: Ack, body: dict[str, Any], view: dict[str, Any], user: str
) -> None:
    reason = submitted_reason(view)
    if not reason:
        ack(response_action="errors", errors={"reason": "Say why this promise may be made, or reword the reply."})
        return
    try:
        item_id = view_metadata(view)[0]
        runtime.queue.approve(item_id, user, reason=reason)
    except (ValueError, QueueError) as exc:
        ack(response_action="errors", errors={"reason": str(exc)})
        return
    ack()
    action = {"value": str(item_id)}
    card_button("approve", lambda rt, i, u, _c: approve(rt, i, u, reason))(runtime, body, action, runtime.client, user)


def draft_warnings(runtime: SlackRuntime, item: QueueItem, text: str | None = None) -> list[str]:
    """The promise check of the item's draft (or of `text`), in the post's language."""
    words = (item.draft_text or "") if text is None else text
    post = runtime.store.posts.get_post(item.post_key)
    return reply_warnings(words, _lang(runtime, post)) if words and post is not None else []


def _lang(runtime: SlackRuntime, post: Post) -> str:
    triage = runtime.store.posts.post_triage(post.key)
    return (triage.lang if triage else None) or post.lang or "en"


# --- the draft modal --------------------------------------------------------------------


def draft_form(runtime: SlackRuntime, item_id: int) -> DraftForm:
    item = runtime.queue.item(item_id)
    require(Action.DRAFT, item_id, item.state)
    post = runtime.store.posts.get_post(item.post_key)
    if post is None:
        raise QueueError(f"post {item.post_key} of item {item_id} is missing from the store")
    triage = runtime.store.posts.post_triage(post.key)
    intents, lang = triage.intents if triage else (), _lang(runtime, post)
    emotion = triage and emotion_of(intents=intents, sentiment=triage.sentiment, sentiment_label=triage.sentiment_label)
    # the prepared answer for the post's emotion comes first, preselected; then the config's
    prepared = prepared_answers(emotion, intents=intents, lang=lang, case=f"#{item_id}") if emotion else []
    templates = [Template(a.label[:OPTION_LIMIT], a.text) for a in prepared]
    templates += templates_for(runtime.config.slack.templates, intents=intents, lang=lang)
    text = item.draft_text or ""
    if not text and templates:
        text = render_template(templates[0].text, post=post, brand=runtime.config.brand.name)
    return DraftForm(
        item_id=item_id,
        post=post,
        limit=runtime.reply_limit(post),
        templates=tuple(templates),
        text=text,
        note=item.draft_note or "",
        warnings=tuple(draft_warnings(runtime, item, text)),
        preselected=0 if prepared and not item.draft_text else None,
    )


def open_draft(runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, _: str) -> None:
    try:
        item_id, _choice = _item_id(action)
        form = draft_form(runtime, item_id)
    except (ValueError, QueueError) as exc:
        _tell(client, body, str(exc))
        return
    open_modal(client, body, draft_modal(form))


def pick_template(
    runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, _: str
) -> None:
    view = body["view"]
    try:
        item_id, revision = view_metadata(view)
        form = draft_form(runtime, item_id)
        picked = str((action.get("selected_option") or {}).get("value", ""))
        chosen = form.templates[int(picked) if picked.isascii() and picked.isdigit() else len(form.templates)]
    except (ValueError, IndexError, QueueError) as exc:
        _tell(client, body, str(exc) if isinstance(exc, QueueError) else "That template is not offered any more.")
        return
    note = view.get("state", {}).get("values", {}).get("note", {}).get("note", {}).get("value") or ""
    updated = DraftForm(
        item_id=form.item_id,
        post=form.post,
        limit=form.limit,
        templates=form.templates,
        text=render_template(chosen.text, post=form.post, brand=runtime.config.brand.name, agent=agent_name(body)),
        note=note,
        revision=revision + 1,
    )
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=draft_modal(updated))
    except SlackApiError as exc:  # hash_conflict: the modal changed meanwhile; the typed text stays
        log.info("template not applied to draft modal of #%s: %s", form.item_id, exc.response.get("error"))


def submit_draft(runtime: SlackRuntime, ack: Ack, body: dict[str, Any], view: dict[str, Any], user: str) -> None:
    try:
        item_id, text, note, block_id = submitted_draft(view)
    except ValueError as exc:
        ack(response_action="errors", errors={_draft_error_block(view): str(exc)})
        return
    try:
        item = runtime.queue.item(item_id)
        post = runtime.store.posts.get_post(item.post_key)
        if post is None:
            raise QueueError(f"post {item.post_key} is missing from the store")
        problem = length_error(text, runtime.reply_limit(post), post.platform, runtime.reply_measure(post))
        if problem:
            ack(response_action="errors", errors={block_id: problem})
            return
        warnings = draft_warnings(runtime, item, text)
        if warnings and checked_digest(view) != text_digest(text):
            # show each phrase and why; saving the same words again keeps them
            form = replace(draft_form(runtime, item_id), text=text, note=note, warnings=tuple(warnings))
            ack(response_action="update", view=draft_modal(replace(form, checked=text_digest(text))))
            return
        drafted = runtime.queue.draft(item_id, user, text, note=note)
    except QueueError as exc:
        ack(response_action="errors", errors={block_id: str(exc)})
        return
    ack()
    approvers = " ".join(mention_any(a) for a in runtime.config.slack.approvers[:5])
    if drafted.changed and runtime.approval_required(drafted.item) and approvers:
        runtime.note(drafted.item, "review", f"{approvers} {mention(user)} drafted a reply: please review it.")
    runtime.redraw(item_id)


def _draft_error_block(view: Mapping[str, Any]) -> str:
    return reply_block_id(view)


# --- the reject modal -------------------------------------------------------------------


def open_reject(runtime: SlackRuntime, body: dict[str, Any], action: dict[str, Any], client: WebClient, _: str) -> None:
    try:
        item_id, _choice = _item_id(action)
        require(Action.REJECT, item_id, runtime.queue.item(item_id).state)
    except (ValueError, QueueError) as exc:
        _tell(client, body, str(exc))
        return
    open_modal(client, body, reject_modal(item_id))


def submit_reject(runtime: SlackRuntime, ack: Ack, body: dict[str, Any], view: dict[str, Any], user: str) -> None:
    note = (view["state"]["values"].get("note", {}).get("note", {}).get("value") or "").strip()
    try:
        item_id = view_metadata(view)[0]
        rejected = runtime.queue.reject(item_id, user, note)
    except (ValueError, QueueError) as exc:
        ack(response_action="errors", errors={"note": str(exc)})
        return
    ack()
    drafter = rejected.item.assignee
    runtime.note(rejected.item, "rejected", f"{mention(drafter)} {mention(user)} returned your draft: {escape(note)}")
    runtime.redraw(item_id)


# --- the table ----------------------------------------------------------------------------

LISTENERS: tuple[ActionListener | ViewListener, ...] = (
    ActionListener("claim", Role.MODERATOR, card_button("claim", claim)),
    ActionListener("unclaim", Role.MODERATOR, card_button("unclaim", unclaim)),
    ActionListener("dismiss", Role.MODERATOR, card_button("dismiss", dismiss)),
    ActionListener("escalate", Role.MODERATOR, card_button("escalate", escalate)),
    ActionListener("snooze", Role.MODERATOR, card_button("snooze", snooze)),
    ActionListener("send", Role.MODERATOR, card_button("send", send)),
    ActionListener("approve", Role.APPROVER, open_approve),
    ViewListener("approve_reason_submit", Role.APPROVER, submit_approve_reason, lambda _view: "reason"),
    # hiding a customer's words is public, like sending a reply: approvers only
    ActionListener("hide", Role.APPROVER, card_button("hide", hide)),
    ActionListener("unhide", Role.APPROVER, card_button("unhide", unhide)),
    ActionListener("draft", Role.MODERATOR, open_draft),
    ActionListener("pick_template", Role.MODERATOR, pick_template),
    ViewListener("draft_submit", Role.MODERATOR, submit_draft, _draft_error_block),
    ActionListener("reject", Role.APPROVER, open_reject),
    ViewListener("reject_submit", Role.APPROVER, submit_reject, lambda _view: "note"),
)


def register(app: App, runtime: SlackRuntime, listeners: tuple[ActionListener | ViewListener, ...] = LISTENERS) -> None:
    """Wire every listener to `app`, each behind the check of its role."""
    for listener in listeners:
        if isinstance(listener, ActionListener):
            app.action(listener.action_id)(_guarded_action(runtime, listener))
        else:
            app.view(listener.callback_id)(_guarded_view(runtime, listener))


def _guarded_action(runtime: SlackRuntime, listener: ActionListener) -> Callable[..., None]:
    def run(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        try:
            runtime.permissions.check(user, listener.role)
        except Refused as exc:
            _tell(client, body, str(exc))
            return
        listener.handle(runtime, body, action, client, user)

    return run


def _guarded_view(runtime: SlackRuntime, listener: ViewListener) -> Callable[..., None]:
    def run(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        try:
            runtime.permissions.check(user, listener.role)
        except Refused as exc:
            ack(response_action="errors", errors={listener.error_block(view): str(exc)})
            return
        listener.handle(runtime, ack, body, view, user)

    return run


# --- telling people -------------------------------------------------------------------------


def _tell(client: WebClient, body: Mapping[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    user = (body.get("user") or {}).get("id", "")
    try:
        if channel:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        else:
            client.chat_postMessage(channel=user, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s: %s (%s)", user, text, exc)


def open_modal(client: WebClient, body: Mapping[str, Any], view: dict[str, Any]) -> None:
    """Slack gives 3 seconds to open a modal after a click; say so when it is missed."""
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        log.warning("views.open failed: %s", exc.response.get("error"))
        _tell(
            client, body, f"The form could not open (Slack said {exc.response.get('error')}); click the button again."
        )


def mention_any(who: str) -> str:
    return group_mention(who) if who.startswith("S") else mention(who)


def agent_name(body: Mapping[str, Any]) -> str:
    user = body.get("user") or {}
    return str(user.get("name") or user.get("username") or "")
