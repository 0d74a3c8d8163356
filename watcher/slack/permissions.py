"""Who may do what on the queue's cards and modals.

Every listener names the `Role` it needs in the listener table (watcher.slack.listeners),
and the table's wrapper checks it before the listener runs: a new listener cannot
forget the check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

GROUP_CACHE_SECONDS = 300


class Refused(Exception):
    """An action this user may not take; the message is shown to them alone."""


class Role(StrEnum):
    MODERATOR = "moderator"  # acts on cards: claim, draft, send, dismiss...
    APPROVER = "approver"  # a moderator who may also approve or reject drafts, and hide posts


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

    def check(self, user: str, role: Role) -> None:
        """Raise Refused unless `user` holds `role`."""
        if role is Role.APPROVER:
            self.check_approver(user)
        else:
            self.check_moderator(user)

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
                "Only approvers can approve replies or hide posts (slack.approvers). Ask one of them to do it."
            )
