"""The incident vocabulary: its states, the typed rows the store returns, and its settings.

An incident is one problem many customers write about (an outage, late deliveries):
one card in Slack, one approved statement per language sent to every affected post,
and a follow-up when it is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class IncidentState(StrEnum):
    """Where an incident is: suggested by detection, ignored by an agent, or open
    (investigating -> identified -> monitoring) until resolved."""

    SUGGESTED = "suggested"
    IGNORED = "ignored"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


# states in which matching posts join the incident instead of getting their own cards
OPEN_INCIDENT_STATES: tuple[str, ...] = ("investigating", "identified", "monitoring")
# states in which detection does not suggest another incident for the same intent
ACTIVE_INCIDENT_STATES: tuple[str, ...] = ("suggested", *OPEN_INCIDENT_STATES)


class StatementKind(StrEnum):
    FIRST = "first"  # the answer to everyone affected
    CLOSING = "closing"  # the follow-up when it is resolved


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    title: str
    intent: str
    state: IncidentState
    created_at: datetime
    updated_at: datetime
    version: int
    opened_by: str | None = None
    first_statement_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_INCIDENT_STATES


@dataclass(frozen=True, slots=True)
class IncidentRef:
    """An incident as a queue card names it: in its menu, or as the one its post is in."""

    id: int
    title: str
    is_open: bool = True


@dataclass(frozen=True, slots=True)
class IncidentPost:
    """A post the incident covers, with what the pipeline knew of it."""

    post_key: str
    platform: str
    lang: str
    author_handle: str
    text: str
    created_at: datetime
    joined_at: datetime
    item_id: int | None
    item_state: str | None
    own_card: bool  # urgent for another reason: it kept its own card


@dataclass(frozen=True, slots=True)
class Statement:
    incident_id: int
    kind: StatementKind
    lang: str
    text: str
    drafted_by: str
    approved_by: str | None = None
    override_reason: str = ""  # why it was approved past a promise warning


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    action: str
    actor: str
    from_state: str | None
    to_state: str | None
    at: datetime
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class IncidentsConfig:
    """[incidents] in the config file."""

    enabled: bool = True
    # the intents a burst of which is an incident
    intents: tuple[str, ...] = ("outage", "delivery", "billing", "double_charge")
    # this many posts about one intent within window_minutes suggest an incident
    min_posts: int = 8
    window_minutes: int = 30
    # posts with these intents (or tags) keep their own card while they join an incident
    own_card_intents: tuple[str, ...] = ("safety", "legal", "privacy_breach", "press_threat", "account_takeover")
    own_card_tags: tuple[str, ...] = ("vip",)
    # replies per minute per platform while answering everyone
    sends_per_minute: int = 20
    channel: str = ""  # the incident cards' channel; empty: slack.channel
    # posts that join after the statement went out: "send" it to them from the Slack tick,
    # or "approve": they wait for the next Answer everyone click
    late_joiners: str = "approve"


LATE_JOINER_MODES = ("send", "approve")
