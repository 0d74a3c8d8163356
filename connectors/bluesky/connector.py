"""Bluesky: mentions, replies and quotes of the brand account (listNotifications) and
brand searches (searchPosts, sort latest, since and language filters); replies as
the account with the thread's root and parent references, within 300 graphemes.

The cursor holds one watermark per listing (the newest `indexedAt` read and the URIs
read at that instant), the session string (so a restart does not log in again), and
the end of a rate limit that stopped a poll half way. An idle poll asks one request
for the notifications and one per search term.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Self

from connectors.base import (
    Connector,
    FetchResult,
    PostedReply,
    ReplyRejected,
    SourceMisconfigured,
    own_replies_one_by_one,
)
from connectors.bluesky.client import BLUESKY_URL, BlueskyClient, Meter, make_sdk, param_model
from connectors.bluesky.mapping import (
    BLUESKY,
    MAX_GRAPHEMES,
    POST_REASONS,
    ItemError,
    grapheme_length,
    indexed_at,
    item_uri,
    notification_to_post,
    post_view_to_post,
    refs_for_reply,
    web_url,
)
from connectors.meta.mapping import same_text
from connectors.meta.state import Mark
from connectors.shared import Run, blocked_until, check_base_url, check_ranges, refuse_while_blocked
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions, shown_env_name
from watcher.core.cursor import Cursor
from watcher.core.post import Post

CURSOR_VERSION = 1
NOTIFICATIONS = "notifications"
SEARCH_OVERLAP = timedelta(minutes=5)  # `since` reaches a little before the watermark: sortAt may trail indexedAt


@dataclass
class BlueskyState:
    marks: dict[str, Mark] = field(default_factory=dict)
    session: str = ""
    blocked_until: datetime | None = None

    def to_cursor(self) -> Cursor:
        return Cursor(
            {
                "v": CURSOR_VERSION,
                "marks": {key: mark.to_json() for key, mark in sorted(self.marks.items())},
                "session": self.session,
                "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None,
            }
        )

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> BlueskyState:
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data = cursor.state
        marks = {str(k): Mark.from_json(v) for k, v in (data.get("marks") or {}).items()}
        return cls(marks, str(data.get("session") or ""), blocked_until(data))


class BlueskyConnector(Connector):
    name: ClassVar[str] = BLUESKY
    max_reply_length: int = MAX_GRAPHEMES

    def __init__(
        self,
        client: BlueskyClient,
        *,
        source: str,
        searches: Sequence[str] = (),
        lang: str | None = None,
        include_notifications: bool = True,
        page_limit: int = 50,
        max_pages: int = 5,
        backfill_hours: int = 24,
        request_timeout: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.source = source
        client.source = source
        self.searches = tuple(searches)
        self.lang = lang
        self.include_notifications = include_notifications
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.backfill = timedelta(hours=backfill_hours)
        self.request_timeout = request_timeout  # the queue's send lease is sized from it
        if clock is not None:
            client.meter.clock = clock

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.client.clock

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        handle = opts.get("handle", str)
        password = opts.secret("app_password_env", "BLUESKY_APP_PASSWORD")
        hint = shown_env_name(str(cfg.options.get("app_password_env") or "BLUESKY_APP_PASSWORD"),
                              f"sources.{cfg.name}.app_password_env")  # fmt: skip
        base_url = opts.get("base_url", str, BLUESKY_URL).rstrip("/")
        searches = opts.get("search", tuple[str, ...], ())
        lang = opts.get("lang", str, None)
        notifications = opts.get("include_notifications", bool, True)
        page_limit = opts.get("page_limit", int, 50)
        max_pages = opts.get("max_pages", int, 5)
        timeout = opts.get("timeout_seconds", float, 20.0)
        check_ranges(opts, {"page_limit": (page_limit, 1, 100), "max_pages": (max_pages, 1, 50),
                            "timeout_seconds": (timeout, 0.1, 300)})  # fmt: skip
        check_base_url(opts, "base_url", base_url)
        if handle is not None and "." not in str(handle).strip(" .@"):
            opts.problems.append(ConfigProblem(cfg.file, f"sources.{cfg.name}.handle",
                                               'must be the account\'s handle, like "lumo.bsky.social"'))  # fmt: skip
        opts.finish()
        meter = Meter()
        client = BlueskyClient(
            make_sdk(base_url, timeout, meter), meter, handle=str(handle), password=password, password_hint=hint
        )
        return cls(
            client,
            source=cfg.name,
            searches=searches,
            lang=lang,
            include_notifications=notifications,
            page_limit=page_limit,
            max_pages=max_pages,
            backfill_hours=cfg.backfill_hours,
            request_timeout=timeout,
        )

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        self.client.sdk.request.close()

    def reply_length(self, text: str) -> int:
        """Bluesky counts its limit in graphemes (what a reader sees as one character)."""
        return grapheme_length(text)

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New mentions, replies, quotes and search hits since `cursor`, oldest first."""
        state = BlueskyState.from_cursor(cursor)
        now = self.clock()
        refuse_while_blocked(state.blocked_until, now, platform="Bluesky", source=self.source, endpoint="bluesky")
        self.client.resume(state.session)
        start = self.client.meter.count
        run = Run()
        listings = ([NOTIFICATIONS] if self.include_notifications else []) + [f"search:{t}" for t in self.searches]
        run.read([partial(self._listing, state, key=key, now=now) for key in listings], source=self.source)
        state.session = self.client.session_string() or state.session
        held = self.client.meter.blocked_until
        state.blocked_until = held if held is not None and held > now else None
        return run.result(state.to_cursor(), self.client.meter.count - start)

    def _listing(self, state: BlueskyState, run: Run, *, key: str, now: datetime) -> None:
        """One listing, newest first, down to its watermark; counted once complete."""
        mark = state.marks.get(key) or Mark(now - self.backfill)
        if key == NOTIFICATIONS:
            nsid, items_key, what = "app.bsky.notification.listNotifications", "notifications", "the notifications"
            params: dict[str, Any] = {"reasons": list(POST_REASONS), "limit": self.page_limit}
            to_post = self._notification
        else:
            term = key.removeprefix("search:")
            nsid, items_key, what = "app.bsky.feed.searchPosts", "posts", f"the search {term!r}"
            since = ((mark.at or now) - SEARCH_OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")
            params = {"q": term, "sort": "latest", "since": since, "lang": self.lang, "limit": self.page_limit}
            to_post = self._search_hit
        seen: list[tuple[datetime, str]] = []
        page_cursor: str | None = None
        for _ in range(self.max_pages):
            body = self.client.query(nsid, param_model(nsid, {**params, "cursor": page_cursor}), what=what)
            items = body.get(items_key)
            if not isinstance(items, list):
                raise SourceMisconfigured(f"Bluesky sent no {items_key} list for {what}", source=self.source)
            below = False
            for raw in items:
                try:
                    stamp, uri = indexed_at(raw), item_uri(raw)
                except ItemError as exc:
                    run.problems.append(f"{self.source}: {what}: skipped an item ({exc}); the rest was read")
                    continue
                seen.append((stamp, uri))
                below = below or mark.is_below(stamp)
                if not mark.is_new(stamp, uri) or (key == NOTIFICATIONS and raw.get("reason") not in POST_REASONS):
                    continue
                try:
                    run.posts.append(to_post(raw))
                except ItemError as exc:
                    run.problems.append(f"{self.source}: {what}: cannot map {uri} ({exc}); the rest was read")
            page_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if below or not page_cursor or not items:
                break
        else:
            run.problems.append(
                f"{self.source}: {what}: more than {self.max_pages} pages are new; the oldest were not read "
                "(raise max_pages or poll more often)"
            )
        state.marks[key] = mark.advanced(seen)

    def _notification(self, raw: Mapping[str, Any]) -> Post:
        return notification_to_post(raw, brand_did=self.client.did, source=self.source)

    def _search_hit(self, raw: Mapping[str, Any]) -> Post:
        return post_view_to_post(raw, brand_did=self.client.did, source=self.source)

    # --- reply ------------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Answer `post` as the brand account, in its thread. Raises ReplyRejected (too
        long, deleted, replies limited) or ReplyOutcomeUnknown (look before resending)."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a Bluesky post", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        size = grapheme_length(text)
        if size > MAX_GRAPHEMES:
            raise ReplyRejected(
                f"the reply to {post.key} is {size} characters; Bluesky allows {MAX_GRAPHEMES}. Shorten it",
                source=self.source,
            )
        try:
            root, parent = refs_for_reply(post)
        except ItemError as exc:
            raise ReplyRejected(
                f"cannot answer {post.key} here ({exc}); answer on bsky.app", source=self.source
            ) from None
        made = self.client.send_reply(text, root=root, parent=parent, langs=[post.lang] if post.lang else None)
        return PostedReply(
            platform=self.name, native_id=made.uri, url=web_url(made.uri, self.client.handle), posted_at=self.clock()
        )

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's reply directly under `post` (with `text`, when given): one
        getPostThread; a deleted post has none."""
        nsid = "app.bsky.feed.getPostThread"
        try:
            body = self.client.query(
                nsid, param_model(nsid, {"uri": post.native_id, "depth": 1, "parent_height": 0}), what=f"{post.key}"
            )
        except SourceMisconfigured:
            return None  # NotFound: the post is gone, and with it any reply
        thread = body.get("thread")
        replies = thread.get("replies") if isinstance(thread, Mapping) else None
        for node in replies if isinstance(replies, list) else []:
            view = node.get("post") if isinstance(node, Mapping) else None
            try:
                mine = post_view_to_post(view, brand_did=self.client.did, source=self.source)
            except ItemError:
                continue
            if mine.is_own and (text is None or same_text(mine.text, text)):
                return PostedReply(
                    platform=self.name, native_id=mine.native_id, url=mine.url, posted_at=mine.created_at
                )
        return None

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """One getPostThread per post; the account's own replies also arrive through the
        notifications' threads only when someone answers them, so this is the check."""
        return own_replies_one_by_one(self, posts)


CONNECTOR = BlueskyConnector
