"""The watcher's shared vocabulary: priorities, queue states and the market languages.

Each list lives here once; config checks, the store's SQL, cards, the CLI and
triage read it from here instead of spelling it out again.
"""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    """How soon an item needs a person; declared most urgent first."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for urgent, rising as it gets less urgent (the queue's sort key)."""
        return PRIORITIES.index(self.value)


PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
PRIORITY_RANK: dict[str, int] = {p: rank for rank, p in enumerate(PRIORITIES)}


class QueueState(StrEnum):
    """Where a queue item is in its life; the legal moves are in watcher.queue.transitions."""

    NEW = "new"
    CLAIMED = "claimed"
    DRAFTED = "drafted"
    APPROVED = "approved"
    SENDING = "sending"
    FAILED = "failed"
    SNOOZED = "snoozed"
    REPLIED = "replied"
    DISMISSED = "dismissed"
    ANSWERED_ELSEWHERE = "answered_elsewhere"


# states in which an item still waits for the team
OPEN_STATES: tuple[str, ...] = ("new", "claimed", "drafted", "approved", "sending", "failed", "snoozed")
FINAL_STATES: tuple[str, ...] = tuple(s.value for s in QueueState if s.value not in OPEN_STATES)

# the languages the bundled models, lexicons and intent patterns cover
MARKET_LANGUAGES: tuple[str, ...] = ("en", "it", "ro", "es", "de", "fr", "pt")
