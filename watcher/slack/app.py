"""The Bolt app: buttons and modals on queue cards drive `watcher.queue.machine.Queue`.

Every click is acknowledged first (Slack allows 3 seconds), checked against the
configured moderators (others get an ephemeral refusal), applied as one queue
transition (idempotent: a double click or two agents at once yield one winner),
and the card is redrawn in place. Socket Mode needs no public URL; HTTP mode
verifies Slack's signatures (5-minute window) and refuses replayed requests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.base import Connector, reply_scope
from watcher.config import Config
from watcher.core.config import env_missing
from watcher.core.post import Post, utc_now
from watcher.core.vocab import OPEN_STATES
from watcher.notify.outbox import DeliveryFailed, DeliveryRetry, retry_time
from watcher.queue.machine import Queue, QueueError, Transition
from watcher.slack.cards import (
    DraftForm,
    draft_modal,
    escape,
    group_mention,
    length_error,
    mention,
    reject_modal,
    render_template,
    reply_limit,
    submitted_draft,
    templates_for,
)
from watcher.slack.outbox import SlackNotifier, card_key, enqueue_card_update, flush_slack
from watcher.slack.sla import BusinessHours, sla_sweep, snooze_until
from watcher.store import Store

log = logging.getLogger(__name__)

ConnectorFor = Callable[[Post], Connector]
SIGNATURE_WINDOW_SECONDS = 300
GROUP_CACHE_SECONDS = 300
NATIVE_CHECKS_PER_RUN = 20


class Refused(Exception):
    """An action this user may not take; the message is shown to them alone."""


@dataclass
class Permissions:
    """Moderators and approvers are member ids (U...) or user-group ids (S...);
    group membership is read from Slack and cached for five minutes."""

    client: WebClient
    moderators: tuple[str, ...]
    approvers: tuple[str, ...] = ()
    monotonic: Callable[[], float] = time.monotonic
    _groups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _members(self, group: str) -> frozenset[str]:
        with self._lock:
            cached = self._groups.get(group)
            if cached and self.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            log.warning("cannot read user group %s (%s); its members are refused until it can be read", group, exc)
            return frozenset()
        with self._lock:
            self._groups[group] = (self.monotonic(), users)
        return users

    def _allowed(self, user: str, ids: tuple[str, ...]) -> bool:
        if user in ids:
            return True
        return any(user in self._members(g) for g in ids if g.startswith("S"))

    def check_moderator(self, user: str) -> None:
        if not self.moderators:
            raise Refused(
                "No moderators are configured (slack.moderators is empty), so nobody may act on cards. "
                "Ask an admin to list member or user-group ids there."
            )
        if not self._allowed(user, self.moderators):
            raise Refused(
                "Only the care team's moderators can act on queue cards. Ask an admin to add you to slack.moderators."
            )

    def check_approver(self, user: str) -> None:
        self.check_moderator(user)
        if self.approvers and not self._allowed(user, self.approvers):
            raise Refused(
                "Only approvers can approve replies (slack.approvers). Ask one of them to approve this draft."
            )


@dataclass
class SlackRuntime:
    """Everything the listeners and the scheduler jobs share."""

    config: Config
    store: Store
    client: WebClient
    connector_for: ConnectorFor
    clock: Callable[[], datetime] = utc_now
    # pacing between posts to one channel; tests pass a recorder instead of sleeping
    sleep: Callable[[float], None] = time.sleep
    notifier: SlackNotifier = field(init=False)
    queue: Queue = field(init=False)
    permissions: Permissions = field(init=False)
    _redraw_locks: dict[int, threading.Lock] = field(default_factory=dict)
    _send_locks: dict[int, threading.Lock] = field(default_factory=dict)
    # one flusher per process: two threads delivering the same outbox row could post it twice
    flush_lock: threading.Lock = field(default_factory=threading.Lock)
    native_check_due: datetime | None = None
    native_offset: int = 0
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        slack = self.config.slack
        self.notifier = SlackNotifier(self.store, self.client, self.config, clock=self.clock, sleep=self.sleep)
        self.queue = Queue(self.store, clock=self.clock, four_eyes=slack.four_eyes)
        self.permissions = Permissions(self.client, slack.moderators, slack.approvers)

    @property
    def hours(self) -> BusinessHours:
        return BusinessHours.from_config(self.config.slack, self.config.brand.timezone)

    def approval_required(self, item: Mapping[str, Any]) -> bool:
        return item["priority"] in self.config.slack.approval_required

    def redraw(self, item_id: int) -> None:
        """Update the card now; if Slack cannot take it now, the outbox row stays
        pending and the scheduler's flush delivers it (Retry-After honoured)."""
        item = self.store.items.get_item(item_id)
        if item is None:
            return
        row_id = enqueue_card_update(self.store, item, now=self.clock())
        if row_id is None:
            return
        with self._lock_for(self._redraw_locks, item_id):
            row = {"id": row_id, "kind": "card_update", "attempts": 0, "channel": "", "item_id": item_id}
            row["payload"] = {"item_id": item_id}
            try:
                ref = self.notifier.deliver(row)
            except DeliveryRetry as exc:  # the click itself succeeded; the redraw waits in the outbox
                log.warning("card for item %s not redrawn yet: %s", item_id, exc)
                self.store.outbox.mark_outbox_retry(
                    row_id, next_attempt_at=retry_time(exc, self.clock()), error=str(exc)
                )
                return
            except DeliveryFailed as exc:
                log.error("card for item %s cannot be redrawn: %s", item_id, exc)
                self.store.outbox.mark_outbox_failed(row_id, error=str(exc))
                return
            self.store.outbox.mark_outbox_sent(row_id, ref=ref, now=self.clock())

    def note(self, item: Mapping[str, Any], what: str, text: str) -> None:
        """A message in the card's thread that pings the people who must act next."""
        self.store.outbox.enqueue_outbox(
            "note",
            f"note:{item['id']}:{item['version']}:{what}",
            {"item_id": item["id"], "post_key": item["post_key"], "text": text},
            now=self.clock(),
            channel=item["channel"] or "",
            item_id=item["id"],
        )

    def _lock_for(self, locks: dict[int, threading.Lock], item_id: int) -> threading.Lock:
        with self._locks_guard:
            return locks.setdefault(item_id, threading.Lock())

    def send(self, item_id: int, actor: str, *, require_approval: bool) -> Transition:
        """One send per item at a time in this process: a double click waits for the
        first send and then finds the item replied instead of asking the platform twice.
        A click in another process meanwhile is refused by the send lease in the database."""
        with self._lock_for(self._send_locks, item_id):
            return self._send(item_id, actor, require_approval=require_approval)

    def _send(self, item_id: int, actor: str, *, require_approval: bool) -> Transition:
        item = self.queue.item(item_id)
        post = self.store.posts.get_post(item["post_key"])
        if post is None:
            raise QueueError(f"post {item['post_key']} of item {item_id} is missing from the store")
        try:
            connector = self.connector_for(post)
        except Exception as exc:
            raise QueueError(
                f"no connector can reply on {post.platform} for source {post.source!r} ({exc}); check [sources] in the config"
            ) from None
        return self.queue.send(item_id, actor, connector, require_approval=require_approval)


# --- listeners ---------------------------------------------------------------------


def _item_id(action: Mapping[str, Any]) -> tuple[int, str]:
    """Buttons carry "<id>", selects "<id>:<choice>"."""
    raw = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    item, _, choice = raw.partition(":")
    return int(item), choice


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


def build_app(
    runtime: SlackRuntime,
    *,
    token: str,
    signing_secret: str,
    process_before_response: bool = False,
    verify_requests: bool = True,
    replay_clock: Callable[[], float] = time.time,
) -> App:
    """The Bolt app with every listener wired to `runtime`."""
    app = App(
        token=token,
        signing_secret=signing_secret,
        client=runtime.client,
        token_verification_enabled=False,
        request_verification_enabled=verify_requests,
        process_before_response=process_before_response,
        name="watcher",
    )
    app.use(ReplayGuard(clock=replay_clock))
    store, queue = runtime.store, runtime.queue

    def card_action(name: str, step: Callable[[int, str, str], Transition | None], *, approver: bool = False) -> None:
        def listener(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
            ack()
            user = body["user"]["id"]
            try:
                item_id, choice = _item_id(action)
            except ValueError:
                _tell(client, body, f"That {name} button carried no queue item; the card may be from an older version.")
                return
            try:
                if approver:
                    runtime.permissions.check_approver(user)
                else:
                    runtime.permissions.check_moderator(user)
                step(item_id, user, choice)
            except (Refused, QueueError) as exc:
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

        app.action(name)(listener)

    def claim(item_id: int, user: str, _: str) -> Transition:
        return queue.claim(item_id, user)

    def unclaim(item_id: int, user: str, _: str) -> Transition:
        return queue.unclaim(item_id, user)

    def dismiss(item_id: int, user: str, reason: str) -> Transition:
        return queue.dismiss(item_id, user, reason)

    def escalate(item_id: int, user: str, _: str) -> Transition:
        result = queue.escalate(item_id, user)
        if result.changed:  # the scheduler's next flush posts the copy (one flusher: nothing posted twice)
            runtime.notifier.enqueue_escalation(result.item, now=runtime.clock())
        return result

    def snooze(item_id: int, user: str, choice: str) -> Transition:
        try:
            until = snooze_until(choice, now=runtime.clock(), hours=runtime.hours)
        except ValueError as exc:
            raise QueueError(str(exc)) from None
        return queue.snooze(item_id, user, until)

    def approve(item_id: int, user: str, _: str) -> Transition:
        queue.approve(item_id, user)
        runtime.redraw(item_id)  # "Approved; sending" shows while the platform call runs
        return sent(runtime.send(item_id, user, require_approval=True), user)

    def send(item_id: int, user: str, _: str) -> Transition:
        item = queue.item(item_id)
        needs = runtime.approval_required(item)
        if needs and item["state"] == "drafted":
            raise QueueError(f"#{item_id} is {item['priority']}: an approver must use Approve & send.")
        return sent(runtime.send(item_id, user, require_approval=needs), user)

    def sent(result: Transition, user: str) -> Transition:
        item = result.item
        if result.changed and item["state"] == "failed":
            who = {mention(user), mention(item["drafted_by"])}
            error = escape(item["last_error"] or "unknown error")
            runtime.note(item, "failed", f"{' '.join(sorted(who))} the reply was not posted: {error}")
        return result

    for name, step in (
        ("claim", claim),
        ("unclaim", unclaim),
        ("dismiss", dismiss),
        ("escalate", escalate),
        ("snooze", snooze),
        ("send", send),
    ):
        card_action(name, step)
    card_action("approve", approve, approver=True)

    @app.action("draft")
    def open_draft(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        try:
            runtime.permissions.check_moderator(user)
            item_id, _ = _item_id(action)
            form = draft_form(runtime, item_id, user)
        except (Refused, QueueError) as exc:
            _tell(client, body, str(exc))
            return
        open_modal(client, body, draft_modal(form))

    @app.action("pick_template")
    def pick_template(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        meta = json.loads(view.get("private_metadata") or "{}")
        form = draft_form(runtime, int(meta["item_id"]), body["user"]["id"])
        chosen = form.templates[int(action["selected_option"]["value"])]
        note = view.get("state", {}).get("values", {}).get("note", {}).get("note", {}).get("value") or ""
        updated = DraftForm(
            item_id=form.item_id,
            post=form.post,
            limit=form.limit,
            templates=form.templates,
            text=render_template(chosen.text, post=form.post, brand=runtime.config.brand.name, agent=agent_name(body)),
            note=note,
            revision=int(meta.get("revision", 0)) + 1,
        )
        try:
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=draft_modal(updated))
        except SlackApiError as exc:  # hash_conflict: the modal changed meanwhile; the typed text stays
            log.info("template not applied to draft modal of #%s: %s", form.item_id, exc.response.get("error"))

    @app.view("draft_submit")
    def submit_draft(ack: Callable[..., Any], body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        item_id, text, note, block_id = submitted_draft(view)
        try:
            runtime.permissions.check_moderator(user)
            item = queue.item(item_id)
            post = store.posts.get_post(item["post_key"])
            if post is None:
                raise QueueError(f"post {item['post_key']} is missing from the store")
            problem = length_error(text, limit_for(runtime, post), post.platform, measure_for(runtime, post))
            if problem:
                ack(response_action="errors", errors={block_id: problem})
                return
            drafted = queue.draft(item_id, user, text, note=note)
        except (Refused, QueueError) as exc:
            ack(response_action="errors", errors={block_id: str(exc)})
            return
        ack()
        approvers = " ".join(mention_any(a) for a in runtime.config.slack.approvers[:5])
        if drafted.changed and runtime.approval_required(drafted.item) and approvers:
            runtime.note(drafted.item, "review", f"{approvers} {mention(user)} drafted a reply: please review it.")
        runtime.redraw(item_id)

    @app.action("reject")
    def open_reject(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            runtime.permissions.check_approver(body["user"]["id"])
        except Refused as exc:
            _tell(client, body, str(exc))
            return
        item_id, _ = _item_id(action)
        open_modal(client, body, reject_modal(item_id))

    @app.view("reject_submit")
    def submit_reject(ack: Callable[..., Any], body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        item_id = int(json.loads(view["private_metadata"])["item_id"])
        note = (view["state"]["values"].get("note", {}).get("note", {}).get("value") or "").strip()
        try:
            runtime.permissions.check_approver(user)
            rejected = queue.reject(item_id, user, note)
        except (Refused, QueueError) as exc:
            ack(response_action="errors", errors={"note": str(exc)})
            return
        ack()
        drafter = rejected.item["assignee"]
        runtime.note(
            rejected.item, "rejected", f"{mention(drafter)} {mention(user)} returned your draft: {escape(note)}"
        )
        runtime.redraw(item_id)

    return app


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


def limit_for(runtime: SlackRuntime, post: Post) -> int:
    try:
        connector: Any = runtime.connector_for(post)
    except Exception:
        connector = None
    return reply_limit(post.platform, connector)


def measure_for(runtime: SlackRuntime, post: Post) -> Callable[[str], int]:
    """The connector's count of reply length (X weighs links and some characters differently)."""
    try:
        connector: Connector = runtime.connector_for(post)
    except Exception:
        return len
    return connector.reply_length


def draft_form(runtime: SlackRuntime, item_id: int, user: str) -> DraftForm:
    item = runtime.queue.item(item_id)
    if item["state"] not in ("new", "claimed", "drafted", "failed", "snoozed"):
        raise QueueError(f"#{item_id} is {item['state']}; it cannot be drafted now")
    post = runtime.store.posts.get_post(item["post_key"])
    if post is None:
        raise QueueError(f"post {item['post_key']} of item {item_id} is missing from the store")
    triage = runtime.store.posts.post_triage(post.key)
    templates = templates_for(
        runtime.config.slack.templates,
        intents=triage.intents if triage else (),
        lang=(triage.lang if triage else None) or post.lang or "en",
    )
    text = item["draft_text"] or ""
    if not text and templates:
        text = render_template(templates[0].text, post=post, brand=runtime.config.brand.name)
    return DraftForm(
        item_id=item_id,
        post=post,
        limit=limit_for(runtime, post),
        templates=tuple(templates),
        text=text,
        note=item["draft_note"] or "",
    )


class ReplayGuard:
    """Bolt middleware: a signed HTTP request is accepted once. Bolt has already
    checked the signature and the 5-minute window; this refuses the same signature
    seen again inside that window (a captured request replayed)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, window: int = SIGNATURE_WINDOW_SECONDS) -> None:
        self.clock = clock
        self.window = window
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        if req.mode != "http":
            return next()
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        if not signature:
            return next()
        now = self.clock()
        with self.lock:
            for old in [s for s, at in self.seen.items() if now - at > self.window + 60]:
                del self.seen[old]
            if signature in self.seen:
                log.warning("refused a replayed Slack request (signature seen %.0f s ago)", now - self.seen[signature])
                return BoltResponse(status=401, body="replayed request")
            self.seen[signature] = now
        return next()


# --- scheduler job and entry points ----------------------------------------------------


@dataclass(frozen=True)
class JobsReport:
    woken: int
    reminded: int
    answered_elsewhere: int
    sent: int
    retrying: int
    failed: int


def run_slack_jobs(runtime: SlackRuntime) -> JobsReport:
    """The scheduler's Slack tick: wake snoozed items, close items the brand answered
    natively, queue SLA reminders, then flush the outbox (cards, updates, reminders)."""
    with runtime.flush_lock:
        return _run_slack_jobs(runtime)


def _run_slack_jobs(runtime: SlackRuntime) -> JobsReport:
    store, queue, now = runtime.store, runtime.queue, runtime.clock()
    woken = queue.wake_due()
    for item_id in woken:
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now)
    answered = 0
    minutes = runtime.config.slack.native_reply_check_minutes
    if minutes and (runtime.native_check_due is None or now >= runtime.native_check_due):
        runtime.native_check_due = now + timedelta(minutes=minutes)
        answered = check_native_replies(runtime)
    sweep = sla_sweep(store, runtime.config, now=now)
    for item_id in sweep.reminded:  # the card turns to "SLA missed"
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now, reason="sla")
    for item_id in store.slack.slack_stale_cards():  # repeats collapsed in, or changes made from the CLI
        item = store.items.get_item(item_id)
        if item is not None:
            enqueue_card_update(store, item, now=now)
    flushed = flush_slack(store, runtime.notifier, clock=runtime.clock)
    return JobsReport(len(woken), len(sweep.reminded), answered, flushed.sent, flushed.retrying, flushed.failed)


def check_native_replies(runtime: SlackRuntime, *, limit: int = NATIVE_CHECKS_PER_RUN) -> int:
    """An open item the brand already answered on the platform itself is closed,
    and its card says so. Each reply scope is asked once for its share of the batch
    (`find_own_replies`): two X sources of one brand account on one app read its
    timeline once a check, not once each, and never two requests per item. Items of a
    disabled source are checked too (their cards are still open in the team's queue).
    What the platform shows is applied by `Queue.platform_reply_seen`, on the item as it is
    then (a send may have started while the platform was asked): an item whose send is
    uncertain (left `sending` by a send that died, its lease run out, or failed after a
    timeout) is replied when the platform has the brand's reply; a dead send with nothing
    there goes back to failed, retryable; an item a send is posting for is left to it."""
    closed = 0
    states = tuple(s for s in OPEN_STATES if s != "approved")
    sending_now = runtime.store.replies.leased_reply_items(now=runtime.clock())
    rows = [
        r
        for r in runtime.store.items.queue_rows(states=states, limit=1000)
        if runtime.store.slack.slack_message(card_key(r["id"]))
        and not (r["state"] == "sending" and r["id"] in sending_now)
    ]
    if runtime.native_offset >= len(rows):
        runtime.native_offset = 0
    batch = rows[runtime.native_offset : runtime.native_offset + limit]  # rotate: every item gets its turn
    runtime.native_offset += limit
    by_scope: dict[Hashable, tuple[Connector, list[tuple[int, Post]]]] = {}
    unreachable: dict[tuple[str, str], list[int]] = {}  # (source, why) -> its items skipped
    for row in batch:
        post = runtime.store.posts.get_post(row["post_key"])
        if post is None:
            continue
        try:
            connector = runtime.connector_for(post)
        except Exception as exc:  # e.g. its source is gone, or disabled with its credentials unset
            unreachable.setdefault((post.source, str(exc)), []).append(row["id"])
            continue
        # any connector of a scope answers for all of it: the first one met is asked
        by_scope.setdefault(reply_scope(connector), (connector, []))[1].append((row["id"], post))
    for (source, why), ids in unreachable.items():
        log.warning(
            "native reply check cannot ask source %s for item(s) %s: %s; they stay open until answered in Slack",
            source,
            ", ".join(map(str, ids)),
            why,
        )
    for connector, items in by_scope.values():
        try:
            found = connector.find_own_replies([post for _, post in items])
        except Exception as exc:
            sources = ", ".join(sorted({post.source for _, post in items}))
            log.info("native reply check skipped for %d item(s) of %s: %s", len(items), sources, exc)
            continue
        for item_id, post in items:
            result = runtime.queue.platform_reply_seen(item_id, found.get(post.key))
            if not result.changed:
                continue
            enqueue_card_update(runtime.store, result.item, now=runtime.clock())
            if result.item["state"] == "answered_elsewhere":
                closed += 1
            else:  # a send of ours had posted (replied), or died before it could (failed)
                log.warning("item %s had an unconfirmed send: now %s", item_id, result.item["state"])
    return closed


def serve_http(app: App, *, host: str, port: int, path: str) -> ThreadingHTTPServer:
    """A threaded HTTP server handing Slack's POSTs on `path` to Bolt (which checks
    signatures). Call `serve_forever()` on it; `server_address` has the real port."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("slack http: " + format, *args)

        def do_POST(self) -> None:
            request_path, _, query = self.path.partition("?")
            if request_path != path:
                self._reply(404, {}, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8")
            headers: dict[str, str | Sequence[str]] = {k.lower(): [v] for k, v in self.headers.items()}
            response = app.dispatch(BoltRequest(body=body, query=query, headers=headers))
            self._reply(response.status, response.headers, response.body)

        def _reply(self, status: int, headers: Mapping[str, Any], body: str) -> None:
            payload = body.encode("utf-8")
            self.send_response(status)
            for name, values in headers.items():
                for value in values if isinstance(values, list | tuple) else [values]:
                    if name.lower() != "content-length":
                        self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return ThreadingHTTPServer((host, port), Handler)


def jobs_loop(runtime: SlackRuntime, *, interval: float, stop: threading.Event) -> None:
    """`run_slack_jobs` every `interval` seconds until `stop` is set; a failing tick is
    logged and the next one runs (Slack down must not stop the app)."""
    while not stop.is_set():
        try:
            report = run_slack_jobs(runtime)
            if report.retrying or report.failed:
                log.warning("slack tick: %s", report)
        except Exception:
            log.exception("the Slack tick failed; it runs again in %s s", interval)
        stop.wait(interval)


def start(runtime: SlackRuntime, env: Mapping[str, str], *, with_jobs: bool = True) -> None:
    """Run the Slack app until interrupted: Socket Mode (default, no public URL) or HTTP.
    With `with_jobs`, the Slack tick (cards, reminders, updates) runs beside it; turn
    it off when a scheduler in the same database already calls `run_slack_jobs`."""
    stop = threading.Event()
    if with_jobs:
        interval = runtime.config.scheduler.outbox_interval_seconds
        threading.Thread(
            target=jobs_loop,
            args=(runtime,),
            kwargs={"interval": interval, "stop": stop},
            daemon=True,
            name="slack-jobs",
        ).start()
    try:
        _serve(runtime, env)
    finally:
        stop.set()


def _serve(runtime: SlackRuntime, env: Mapping[str, str]) -> None:
    slack = runtime.config.slack
    token = env.get(slack.bot_token_env, "")
    if slack.mode == "socket":
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        # Socket Mode messages arrive over an authenticated websocket: no signatures to check
        app = build_app(runtime, token=token, signing_secret="", verify_requests=False)
        SocketModeHandler(app, env.get(slack.app_token_env, "")).start()
        return
    secret = env.get(slack.signing_secret_env, "")
    if not secret:
        raise SystemExit(
            f"slack.signing_secret_env: {env_missing(slack.signing_secret_env, 'export the app signing secret in it')}"
            " (slack.mode is http)"
        )
    app = build_app(runtime, token=token, signing_secret=secret)
    server = serve_http(app, host=slack.http_host, port=slack.http_port, path=slack.http_path)
    log.info("Slack HTTP endpoint on %s:%s%s", slack.http_host, slack.http_port, slack.http_path)
    try:
        server.serve_forever()
    finally:
        server.server_close()
