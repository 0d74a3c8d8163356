"""The contract every platform connector keeps, its errors, and the registry.

Adding a connector: the numbered steps are in docs/connectors/adding.md.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from watcher.core.config import ConfigProblem, SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post

__all__ = ["Cursor"]  # re-exported: a connector's whole contract is importable from here

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchResult:
    posts: tuple[Post, ...]
    cursor: Cursor | None
    has_more: bool = False
    requests_made: int = 0
    # what the connector could not read or map (a bad record, a range it had to give
    # up), each naming where and why; the pipeline logs them so nothing goes silently
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostedReply:
    platform: str
    native_id: str
    url: str
    posted_at: datetime


class ConnectorError(Exception):
    """Base of every error a connector raises; `message` is safe to show to users
    (it never contains a secret) and says what to do."""

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"source {self.source!r}: {self.message}" if self.source else self.message


class RateLimited(ConnectorError):
    """The platform said stop until `until` (aware UTC). No request before then."""

    def __init__(self, message: str, *, until: datetime, endpoint: str = "", source: str = "") -> None:
        super().__init__(message, source=source)
        self.until = until
        self.endpoint = endpoint


class AuthFailed(ConnectorError):
    """Credentials missing, wrong or lacking a scope: retrying will not help."""


class SourceUnavailable(ConnectorError):
    """The platform or target is down or unreachable (5xx, timeout): back off and retry."""


class SourceMisconfigured(ConnectorError):
    """The target does not exist, is private or banned: fix the config."""


class ReplyRejected(ConnectorError):
    """The platform refused the reply for a reason a human must act on (reply not
    allowed, locked or deleted target, too long). Never retried automatically."""


class NotSupported(ConnectorError):
    """The platform has no such action (hiding a post on a platform without it)."""


class ReplyOutcomeUnknown(ConnectorError):
    """The reply request timed out: it may or may not have been posted. The caller
    must look with `find_own_reply` before trying again."""


@dataclass(frozen=True)
class BudgetRow:
    """One line of a platform's request budget, as `watcher check` shows it."""

    text: str  # what the configured polling spends against what the platform allows
    ok: bool
    sources: tuple[str, ...] = ()  # the sources whose requests the line counts
    fix: str = ""  # when over budget: what to change


class Connector(ABC):
    """One configured source on one platform: everything a caller may use is declared
    here, with a default where it is optional. A new connector subclasses this, sets
    `name`, implements the abstract methods and passes the kit in tests/connectors/kit/."""

    name: ClassVar[str]  # the source kind in the config (`kind = "x"`)
    can_hide: ClassVar[bool] = False  # whether `hide`/`unhide` work on this platform

    @abstractmethod
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New posts since `cursor`, oldest first; may raise RateLimited."""

    @abstractmethod
    def reply(self, post: Post, text: str) -> PostedReply:
        """Post the public reply to `post`. Raises ReplyRejected or ReplyOutcomeUnknown."""

    @abstractmethod
    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's own reply to `post` (with this text, or any when text is None),
        made by us or natively on the platform; None when there is none."""

    @classmethod
    @abstractmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        """Build the real SDK client from a source table and the environment (the only
        place one is built; tests inject a client pointed at a fake server)."""

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """The brand's replies to any of `posts` (post key -> reply): the periodic check
        for items the team answered natively. Post by post unless the platform has a
        cheaper way (X reads the brand's timeline once for the batch)."""
        return own_replies_one_by_one(self, posts)

    request_timeout: float | None = None
    """Seconds one request may wait for the platform (None: not bounded); the queue
    sizes its send lease from it."""

    max_reply_length: int | None = None
    """The longest public reply, as `reply_length` counts it; None: the platform's usual
    limit (the Slack modal knows it per platform)."""

    def reply_length(self, text: str) -> int:
        """The length of `text` as the platform counts it against `max_reply_length`."""
        return len(text)

    @property
    def reply_scope(self) -> Hashable | None:
        """Where the brand's own replies are read from, when several sources share it
        (on X: one app and one brand account); None: this connector alone."""
        return None

    def hide(self, post: Post) -> None:
        """Hide `post` from the public (moderation), where `can_hide`."""
        raise NotSupported(f"{self.name} cannot hide posts; hide it on the platform")

    def unhide(self, post: Post) -> None:
        """Show a hidden `post` again, where `can_hide`."""
        raise NotSupported(f"{self.name} cannot hide posts; hide it on the platform")

    def check(self) -> list[str]:
        """Problems with this source's credentials, permissions and ids, each saying what to do (`watcher check`)."""
        return []

    def close(self) -> None:  # noqa: B027  # optional: most connectors hold nothing to release
        """Release the HTTP session at shutdown (the connector is not used after)."""

    @classmethod
    def plan_budget(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[BudgetRow]:
        """The request budget of this kind's `sources` (disabled ones included: the
        native-reply check still asks them); none for a platform without one."""
        return []

    @classmethod
    def budget_problems(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
        """Over-budget lines as config problems naming the keys to change."""
        return []


def reply_scope(connector: Connector) -> Hashable:
    """Where `connector` reads the brand's own replies from: connectors with equal scopes
    see the same replies, so one `find_own_replies` call answers for all their posts.
    The connector's own `reply_scope` (with its platform) when it has one, else a scope of
    its own, by identity (a connector need not be hashable)."""
    scope = connector.reply_scope
    if scope is None:
        return ("connector", id(connector))
    return (connector.name, scope)


def own_replies_one_by_one(connector: Connector, posts: Sequence[Post]) -> dict[str, PostedReply]:
    """`find_own_replies` for a platform that has no cheaper way than one lookup per post.
    An error stops the batch but keeps what was found before it (the rest wait for their
    next turn); an error on the first post is raised, for the caller to report."""
    found: dict[str, PostedReply] = {}
    for number, post in enumerate(posts):
        try:
            reply = connector.find_own_reply(post, None)
        except ConnectorError as exc:
            if number == 0:
                raise
            log.info("native reply check stopped after %d of %d posts: %s", number, len(posts), exc)
            break
        if reply is not None:
            found[post.key] = reply
    return found


# kind -> the module whose CONNECTOR is that kind's class (imported only when a source uses it)
CONNECTOR_MODULES: dict[str, str] = {
    "replay": "connectors.replay",
    "x": "connectors.x",
    "reddit": "connectors.reddit",
    "facebook": "connectors.meta.facebook",
    "instagram": "connectors.meta.instagram",
    "bluesky": "connectors.bluesky",
    "youtube": "connectors.youtube",
    "mastodon": "connectors.mastodon",
    "hackernews": "connectors.hackernews",
    "google_play": "connectors.google_play",
    "app_store": "connectors.app_store",
    "trustpilot": "connectors.trustpilot",
}


class UnknownConnector(KeyError):
    pass


def connector_class(kind: str) -> type[Connector]:
    """Import the module for `kind` only when a source uses it (keeps start-up light)."""
    module_name = CONNECTOR_MODULES.get(kind)
    if module_name is None:
        known = ", ".join(sorted(CONNECTOR_MODULES))
        raise UnknownConnector(f"unknown connector kind {kind!r}; known kinds: {known}")
    cls = importlib.import_module(module_name).CONNECTOR
    if not (isinstance(cls, type) and issubclass(cls, Connector) and cls.name == kind):
        raise UnknownConnector(f"module {module_name} defines no CONNECTOR named {kind!r}")
    return cls
