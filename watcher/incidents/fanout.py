"""Answer everyone: the approved statement to each affected post, in its language, on
its platform, exactly once.

Each post is answered through its queue item and `Queue.send`, the machinery single
replies use: the reply's idempotency key is stored before the platform call and the
send lease keeps two processes apart, so a crash, a restart or a 429 in the middle
answers no post twice and, run again, skips none. A platform that says stop (429) is
not asked again before its reset (kept in the store, across restarts); the others go
on. Posts with their own card (urgent for another reason), and posts an agent is
already answering, are left to the agent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from connectors.base import Connector, FetchResult, PostedReply, RateLimited
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.incident import IncidentPost, Statement, StatementKind
from watcher.core.post import Post, utc_now
from watcher.core.vocab import QueueState
from watcher.incidents.detect import enqueue_incident_update
from watcher.queue.machine import Queue, QueueError, SendInProgress
from watcher.store import Store
from watcher.store.incidents import followup_key

log = logging.getLogger(__name__)

ConnectorFor = Callable[[Post], Connector]
# an item in one of these states is free for the incident's answer (no agent has a draft)
FREE_STATES = frozenset({QueueState.NEW, QueueState.CLAIMED, QueueState.SNOOZED})


def incident_actor(incident_id: int) -> str:
    """Who drafts an incident's answers on their queue items (the timeline names the people)."""
    return f"incident:{incident_id}"


def render_statement(text: str, post: Post) -> str:
    """The statement addressed to the post's author ({handle}, {name})."""
    handle = f"@{post.author.handle}" if post.author.handle else ""
    return text.replace("{handle}", handle).replace("{name}", post.author.display_name or handle).strip()


@dataclass
class FanOutReport:
    sent: int = 0
    already: int = 0  # answered before (by this fan-out or by an agent)
    waiting: int = 0  # their platform asked us to wait, or another send holds them now
    no_statement: int = 0  # no approved statement in their language
    failed: int = 0
    left_to_agents: int = 0
    blocked: dict[str, datetime] = field(default_factory=dict)  # platform -> until

    @property
    def done(self) -> bool:
        return not self.waiting and not self.failed


class _Watched(Connector):
    """The platform's connector, noting a rate limit the queue's send swallows into a
    failed item: the fan-out then stops asking that platform until the reset."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.request_timeout = inner.request_timeout
        self.limited: RateLimited | None = None

    name = "watched"

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        return self.inner.fetch(cursor)

    def reply(self, post: Post, text: str) -> PostedReply:
        try:
            return self.inner.reply(post, text)
        except RateLimited as exc:
            self.limited = exc
            raise

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        try:
            return self.inner.find_own_reply(post, text)
        except RateLimited as exc:
            self.limited = exc
            raise

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        raise NotImplementedError("a watched connector wraps a built one")


class FanOut:
    def __init__(
        self,
        store: Store,
        connector_for: ConnectorFor,
        *,
        clock: Callable[[], datetime] = utc_now,
        sends_per_minute: int = 20,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.connector_for = connector_for
        self.clock = clock
        self.queue = Queue(store, clock=clock)
        self.gap = 60.0 / max(1, sends_per_minute)
        self.sleep = sleep

    def run(
        self,
        incident_id: int,
        *,
        kind: StatementKind = StatementKind.FIRST,
        actor: str = "",
        joined_after: datetime | None = None,
    ) -> FanOutReport:
        """One pass over the incident's posts (those that joined after `joined_after`, if
        given); run it again to go on after a wait or a crash."""
        statements = {
            lang: s for lang, s in self.store.incidents.statements(incident_id, kind).items() if s.approved_by
        }
        report = FanOutReport()
        if not statements:
            return report
        incident = self.store.incidents.get(incident_id)
        last_send: dict[str, float] = {}
        for entry in self.store.incidents.posts(incident_id):
            if joined_after is None or entry.joined_at > joined_after:
                self._one(incident_id, entry, statements, report, last_send, actor=actor)
        if incident is not None and report.sent:
            self.store.incidents.mark_first_statement(incident_id, now=self.clock())
            enqueue_incident_update(
                self.store, incident, now=self.clock(), reason=f"sent:{self.clock().isoformat()}:{report.sent}"
            )
        return report

    def _one(
        self,
        incident_id: int,
        entry: IncidentPost,
        statements: Mapping[str, Statement],
        report: FanOutReport,
        last_send: dict[str, float],
        *,
        actor: str,
    ) -> None:
        me = incident_actor(incident_id)
        if entry.item_id is None or entry.own_card:
            report.left_to_agents += 1
            return
        item = self.queue.item(entry.item_id)
        ours = item.drafted_by == me
        if item.state in (QueueState.REPLIED, QueueState.ANSWERED_ELSEWHERE):
            report.already += 1
            return
        if not ours and item.state not in FREE_STATES:
            report.left_to_agents += 1  # an agent drafted, dismissed or is answering it
            return
        statement = statements.get(entry.lang)
        if statement is None:
            report.no_statement += 1
            return
        if self._blocked(entry.platform, report):
            return
        post = self.store.posts.get_post(entry.post_key)
        if post is None:
            report.failed += 1
            return
        text = render_statement(statement.text, post)
        approver = str(statement.approved_by)
        try:
            if item.state != QueueState.SENDING and not (ours and item.draft_text == text):
                self.queue.draft(item.id, me, text)
            if self.queue.item(item.id).state == QueueState.DRAFTED:
                self.queue.approve(item.id, approver)
            self._pace(entry.platform, last_send)
            connector = _Watched(self.connector_for(post))
            result = self.queue.send(item.id, actor or approver, connector)
        except SendInProgress:
            report.waiting += 1
            return
        except QueueError as exc:
            log.warning("incident %s: post %s not answered: %s", incident_id, entry.post_key, exc)
            report.failed += 1
            return
        if result.item.state == QueueState.REPLIED:
            report.sent += int(result.changed)
            report.already += int(not result.changed)
            self.store.incidents.add_event(
                incident_id,
                "answered",
                actor=actor or approver,
                from_state=None,
                to_state=None,
                now=self.clock(),
                detail={"post_key": entry.post_key, "item_id": item.id, "url": result.item.reply_url},
            )
            return
        if not self._limited(entry.platform, connector, report):
            report.failed += 1

    def _blocked(self, platform: str, report: FanOutReport) -> bool:
        """The platform said wait (a 429) and its reset has not come."""
        until = self.store.incidents.wait_until(platform)
        if until is not None and until > self.clock():
            report.waiting += 1
            report.blocked[platform] = until
            return True
        return False

    def _limited(self, platform: str, connector: _Watched, report: FanOutReport) -> bool:
        """Keep the wait a 429 asked for (in the store, across restarts)."""
        if connector.limited is None:
            return False
        self.store.incidents.set_wait(platform, connector.limited.until)
        report.waiting += 1
        report.blocked[platform] = connector.limited.until
        return True

    def follow_ups(self, incident_id: int, *, actor: str = "") -> FanOutReport:
        """The approved closing statement to each post that got the first statement and
        whose author has not been answered individually since: exactly once per post (one
        reply key per incident and post, through `Queue.follow_up`); run it again to go on
        after a wait or a crash."""
        statements = {
            lang: s
            for lang, s in self.store.incidents.statements(incident_id, StatementKind.CLOSING).items()
            if s.approved_by
        }
        report = FanOutReport()
        incident = self.store.incidents.get(incident_id)
        if not statements or incident is None:
            return report
        last_send: dict[str, float] = {}
        for entry in self.store.incidents.posts(incident_id):
            self._follow_one(incident_id, entry, statements, report, last_send, actor=actor)
        if report.sent:
            now = self.clock()
            enqueue_incident_update(self.store, incident, now=now, reason=f"followed:{now.isoformat()}:{report.sent}")
        return report

    def _follow_one(
        self,
        incident_id: int,
        entry: IncidentPost,
        statements: Mapping[str, Statement],
        report: FanOutReport,
        last_send: dict[str, float],
        *,
        actor: str,
    ) -> None:
        if entry.item_id is None:
            return
        item = self.queue.item(entry.item_id)
        if item.state != QueueState.REPLIED or item.drafted_by != incident_actor(incident_id):
            return  # it did not get the first statement: its agent answers it
        if item.first_response_at and self.store.incidents.answered_since(
            entry.post_key, item.first_response_at, ours="incident:%"
        ):
            report.left_to_agents += 1  # an agent answered this customer since
            return
        statement = statements.get(entry.lang)
        if statement is None:
            report.no_statement += 1
            return
        if self._blocked(entry.platform, report):
            return
        post = self.store.posts.get_post(entry.post_key)
        if post is None:
            report.failed += 1
            return
        self._pace(entry.platform, last_send)
        connector = _Watched(self.connector_for(post))
        key = followup_key(incident_id, item.id)
        try:
            result = self.queue.follow_up(
                item.id, key, render_statement(statement.text, post), actor or str(statement.approved_by), connector
            )
        except SendInProgress:
            report.waiting += 1
            return
        except QueueError as exc:
            if not self._limited(entry.platform, connector, report):
                log.warning("incident %s: no follow-up to %s: %s", incident_id, entry.post_key, exc)
                report.failed += 1
            return
        report.sent += int(result.changed)
        report.already += int(not result.changed)
        if result.changed:
            self.store.incidents.add_event(
                incident_id,
                "followed_up",
                actor=actor or str(statement.approved_by),
                from_state=None,
                to_state=None,
                now=self.clock(),
                detail={"post_key": entry.post_key, "item_id": item.id, "key": key},
            )

    def _pace(self, platform: str, last_send: dict[str, float]) -> None:
        """Under `sends_per_minute` per platform."""
        last = last_send.get(platform)
        if last is not None:
            wait = self.gap - (time.monotonic() - last)
            if wait > 0:
                self.sleep(wait)
        last_send[platform] = time.monotonic()


def progress(entries: Sequence[IncidentPost]) -> tuple[int, int]:
    """(answered, of) among the posts the incident answers (own-card posts are the agents')."""
    mine = [e for e in entries if not e.own_card]
    return sum(1 for e in mine if e.item_state in ("replied", "answered_elsewhere")), len(mine)
