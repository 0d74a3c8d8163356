"""Which queue action is legal in which state, and where it leads: the one table.

The Queue enforces it, cards read it to decide which buttons to show, and the Slack
listeners read it before opening a modal, so a button can never lead to a form the
queue then refuses. Pure data: cards may import it (it knows no store).

    new --claim--> claimed --draft--> drafted --approve--> approved --send--> sending --> replied
     |  <-unclaim-   |                  |  <---reject-------'                   '--> failed --send--> ...
     '--snooze--> snoozed --wake--> new
    a snoozed item may be claimed or drafted at once (that ends the snooze)
    any open state --dismiss--> dismissed (not while sending);  --answered_elsewhere--> answered_elsewhere
    any open state --hide--> dismissed (not while sending; hidden on the platform as spam) --unhide--> new
    escalate: raises priority to urgent, state unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from watcher.core.vocab import OPEN_STATES, QueueState

S = QueueState


class QueueError(Exception):
    """A transition that is not allowed; the message says why and what to do."""


class Action(StrEnum):
    """A move on a queue item; the first eleven are the card's buttons (same action ids)."""

    CLAIM = "claim"
    UNCLAIM = "unclaim"
    DRAFT = "draft"
    APPROVE = "approve"
    REJECT = "reject"
    SEND = "send"
    DISMISS = "dismiss"
    ESCALATE = "escalate"
    SNOOZE = "snooze"
    HIDE = "hide"
    UNHIDE = "unhide"
    # the watcher's own moves
    WAKE = "wake"
    REPLIED = "replied"
    SEND_FAILED = "send_failed"
    ANSWERED_ELSEWHERE = "answered_elsewhere"


@dataclass(frozen=True)
class Move:
    """An action's legal starting states and the state it leads to (None: unchanged)."""

    allowed: frozenset[QueueState]
    to: QueueState | None
    verb: str  # for refusals: "cannot <verb> item 7: it is replied"


_OPEN = frozenset(S(s) for s in OPEN_STATES)

TRANSITIONS: Mapping[Action, Move] = {
    Action.CLAIM: Move(frozenset({S.NEW, S.SNOOZED, S.FAILED}), S.CLAIMED, "claim"),
    Action.UNCLAIM: Move(frozenset({S.CLAIMED}), S.NEW, "unclaim"),
    # drafting a snoozed item ends the snooze: the team found the answer before the alarm
    Action.DRAFT: Move(frozenset({S.NEW, S.CLAIMED, S.DRAFTED, S.FAILED, S.SNOOZED}), S.DRAFTED, "draft a reply for"),
    Action.APPROVE: Move(frozenset({S.DRAFTED}), S.APPROVED, "approve"),
    Action.REJECT: Move(frozenset({S.DRAFTED, S.APPROVED}), S.CLAIMED, "reject"),
    # from drafted only where no approval is required (Queue.send checks that)
    Action.SEND: Move(frozenset({S.DRAFTED, S.APPROVED, S.SENDING, S.FAILED}), S.SENDING, "send"),
    Action.DISMISS: Move(_OPEN - {S.SENDING}, S.DISMISSED, "dismiss"),
    Action.ESCALATE: Move(_OPEN, None, "escalate"),
    # hiding a comment on the platform takes spam out of the queue; showing it again puts it back
    Action.HIDE: Move(_OPEN - {S.SENDING}, S.DISMISSED, "hide"),
    Action.UNHIDE: Move(frozenset({S.DISMISSED}), S.NEW, "unhide"),
    Action.SNOOZE: Move(frozenset({S.NEW, S.CLAIMED, S.SNOOZED}), S.SNOOZED, "snooze"),
    Action.WAKE: Move(frozenset({S.SNOOZED}), S.NEW, "wake"),
    Action.REPLIED: Move(_OPEN, S.REPLIED, "record the reply of"),
    Action.SEND_FAILED: Move(_OPEN, S.FAILED, "record a failed send of"),
    Action.ANSWERED_ELSEWHERE: Move(_OPEN, S.ANSWERED_ELSEWHERE, "close as answered elsewhere"),
}


def allows(action: Action | str, state: str) -> bool:
    """Whether `action` may be taken on an item in `state`."""
    return state in TRANSITIONS[Action(action)].allowed


def require(action: Action | str, item_id: int, state: str) -> None:
    """Raise QueueError (in words a moderator reads) unless `action` is legal in `state`."""
    if not allows(action, state):
        raise QueueError(f"cannot {TRANSITIONS[Action(action)].verb} item {item_id}: it is {state}")


def result_state(action: Action | str, state: str) -> QueueState:
    """The state `action` leaves an item in `state` in."""
    move = TRANSITIONS[Action(action)]
    return move.to if move.to is not None else QueueState(state)
