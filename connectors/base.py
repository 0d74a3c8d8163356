"""The contract every platform connector keeps, its errors, and the registry.

Adding a connector: the numbered checklist is in the README ("Adding a connector").
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol, Self, runtime_checkable

from watcher.core.config import SourceConfig
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


class ReplyOutcomeUnknown(ConnectorError):
    """The reply request timed out: it may or may not have been posted. The caller
    must look with `find_own_reply` before trying again."""


@runtime_checkable
class Connector(Protocol):
    """One configured source on one platform.

    Optional: a `reply_scope` property (hashable), for a platform where several sources
    read the brand's own replies from one place (on X: one app and one brand account).
    The native-reply check asks one connector of a scope for the posts of all of them;
    without it, each connector is its own scope (see `reply_scope`)."""

    name: ClassVar[str]

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New posts since `cursor`, oldest first; may raise RateLimited."""
        ...

    def reply(self, post: Post, text: str) -> PostedReply:
        """Post the public reply to `post`. Raises ReplyRejected or ReplyOutcomeUnknown."""
        ...

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's own reply to `post` (with this text, or any when text is None),
        made by us or natively on the platform; None when there is none."""
        ...

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """The brand's replies to any of `posts` (post key -> reply): the periodic check
        for items the team answered natively on the platform. A platform whose budget is
        counted per endpoint answers it with as few requests as it can; the others may
        ask post by post (`own_replies_one_by_one`)."""
        ...

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        """Build the real SDK client from a source table and the environment."""
        ...


def reply_scope(connector: Connector) -> Hashable:
    """Where `connector` reads the brand's own replies from: connectors with equal scopes
    see the same replies, so one `find_own_replies` call answers for all their posts.
    The connector's own `reply_scope` (with its platform) when it has one, else a scope of
    its own, by identity (a connector need not be hashable)."""
    scope = getattr(connector, "reply_scope", None)
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


CONNECTOR_MODULES: dict[str, str] = {
    "replay": "connectors.replay",
    "x": "connectors.x.connector",
    "reddit": "connectors.reddit.connector",
    "facebook": "connectors.meta.facebook",
    "instagram": "connectors.meta.instagram",
    "bluesky": "connectors.bluesky.connector",
    "youtube": "connectors.youtube.connector",
    "mastodon": "connectors.mastodon.connector",
    "hackernews": "connectors.hackernews.connector",
}


class UnknownConnector(KeyError):
    pass


def connector_class(kind: str) -> type[Connector]:
    """Import the module for `kind` only when a source uses it (keeps start-up light)."""
    module_name = CONNECTOR_MODULES.get(kind)
    if module_name is None:
        known = ", ".join(sorted(CONNECTOR_MODULES))
        raise UnknownConnector(f"unknown connector kind {kind!r}; known kinds: {known}")
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "name", None) == kind and hasattr(value, "fetch"):
            return value
    raise UnknownConnector(f"module {module_name} defines no connector named {kind!r}")
