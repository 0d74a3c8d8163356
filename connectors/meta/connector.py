"""What the Facebook Page and Instagram connectors share: options, the fetch loop with
per-post watermarks and throttle handling, the reply exactly once, hide and unhide.

A fetch is a list of *units* (the post listing, one post's comments, one stream such
as tags); a unit's posts and its part of the state count only once it is complete.
When Meta throttles (or usage passes `slow_down_percent`) half way, the fetch ends
with what the finished units read and writes the throttle's end into the cursor;
the next fetch raises RateLimited without a request, and the poller keeps that time
across restarts. A throttle before any unit finished is raised at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from connectors.base import (
    Connector,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    own_replies_one_by_one,
)
from connectors.meta.client import GraphClient
from connectors.meta.mapping import ItemError, Parent, as_dict, created_of, item_id, same_text, utf16_length
from connectors.meta.state import Mark, MetaState, Watched
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post, PostKind, utc_now

LOOKUP_BATCH = 50  # ids per `?ids=` request (Graph's limit)


@dataclass(frozen=True)
class Listed:
    """One post or media of the listing: what the watch needs to decide on it."""

    parent: Parent
    created: datetime
    seen: str  # its activity marker now
    active: datetime | None = None  # its last activity, where the platform tells it
    has_comments: bool = True  # False when the platform says there are none (nothing to ask)


@dataclass
class Run:
    """What one fetch has read so far."""

    posts: list[Post] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    units: int = 0  # finished units


def reply_target(post: Post) -> str:
    """Where a reply goes: under the comment itself, or, for a reply to a comment, under
    its top-level comment (Meta keeps one level of replies and adds deeper ones there)."""
    if post.parent_id and post.parent_id != post.conversation_id and post.kind in (PostKind.COMMENT, PostKind.REPLY):
        return post.parent_id
    return post.native_id


class MetaConnector(Connector):
    """The shared half; FacebookConnector and InstagramConnector fill in the platform."""

    can_hide: ClassVar[bool] = True
    label: ClassVar[str] = ""  # the platform as messages name it
    # permissions to read comments, and to reply and hide, as Meta names them
    read_permission: ClassVar[str] = ""
    write_permission: ClassVar[str] = ""

    def __init__(
        self,
        client: GraphClient,
        *,
        owner_id: str,
        source: str,
        window_days: int = 14,
        posts_limit: int = 25,
        max_pages: int = 5,
        backfill_hours: int = 24,
        app_token: str = "",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.owner_id = owner_id  # the Page id or the Instagram account id
        self.source = source
        self.window = timedelta(days=window_days)
        self.posts_limit = posts_limit
        self.max_pages = max_pages
        self.backfill = timedelta(hours=backfill_hours)
        self.app_token = app_token
        self.clock = clock
        client.clock = clock
        client.source = source
        timeout = client.http.timeout.read
        # seconds one request may wait: the queue's send lease is sized from it
        self.request_timeout: float | None = float(timeout) if timeout is not None else None

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        raise NotImplementedError  # each platform reads its own keys

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        self.client.http.close()

    def reply_length(self, text: str) -> int:
        """Meta counts a comment's length in UTF-16 code units."""
        return utf16_length(text)

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New comments, replies and mentions since `cursor`, oldest first."""
        state = MetaState.from_cursor(cursor)
        now = self.clock()
        if state.blocked_until is not None and now < state.blocked_until:
            raise RateLimited(
                f"{self.label} usage was at its limit; no request before {state.blocked_until:%H:%M:%S} UTC",
                until=state.blocked_until,
                endpoint="graph",
                source=self.source,
            )
        state.blocked_until = None
        start = self.client.count
        run = Run()
        try:
            self.read(state, run, now)
        except RateLimited as exc:
            if run.units == 0:
                raise
            state.blocked_until = exc.until
            run.problems.append(
                f"{self.source}: {exc.message}; this poll stored what it had read, the rest follows after that time"
            )
        if self.client.blocked_until is not None and self.client.blocked_until > now:
            state.blocked_until = self.client.blocked_until
        run.posts.sort(key=lambda p: (p.created_at, p.native_id))
        return FetchResult(
            posts=tuple(run.posts),
            cursor=state.to_cursor(),
            requests_made=self.client.count - start,
            problems=tuple(run.problems),
        )

    def read(self, state: MetaState, run: Run, now: datetime) -> None:
        """Every unit of this platform, updating `state` as each completes."""
        raise NotImplementedError

    def read_comments(self, parent: Parent, mark: Mark, run: Run) -> tuple[list[Post], Mark]:
        """The comments under `parent` newer than `mark` (one platform's way)."""
        raise NotImplementedError

    def lookup_fields(self) -> str:
        """Fields of a followed post asked for when it has dropped out of the listing."""
        raise NotImplementedError

    def listed(self, item: Mapping[str, Any]) -> Listed:
        """A listing item -> Listed (raises ItemError)."""
        raise NotImplementedError

    def follow(self, state: MetaState, listing: Sequence[Listed], run: Run, now: datetime) -> None:
        """Read the comments of every post whose activity marker moved; start following new
        posts of the window (and older ones active within the backfill); stop following
        posts that left the listing and the window."""
        horizon, floor = now - self.window, now - self.backfill
        listing = [*listing, *self._dropped_out(state, {item.parent.id for item in listing}, horizon, run)]
        followed: dict[str, Watched] = {}
        for item in listing:
            watched = state.watched.get(item.parent.id)
            if watched is None:
                # new in the window, or older with activity within the backfill: read it now;
                # otherwise only note its marker, and read it when that moves
                recent = item.created >= horizon or (item.active is not None and item.active >= floor)
                unread = "" if recent and item.has_comments else item.seen
                watched = Watched(created=item.created, seen=unread, mark=Mark(floor), active=item.created)
            if watched.seen != item.seen:
                posts, mark = self.read_comments(item.parent, watched.mark, run)
                watched = watched.read(item.seen, mark)
                run.posts.extend(posts)
                run.units += 1
            followed[item.parent.id] = watched
            state.watched[item.parent.id] = watched  # kept at once: a later unit may be throttled
        state.watched = {
            key: w for key, w in state.watched.items() if key in followed or w.active >= horizon or w.created >= horizon
        }

    def _dropped_out(self, state: MetaState, listed: set[str], horizon: datetime, run: Run) -> list[Listed]:
        """Followed posts no longer in the listing but active within the window, looked
        up by id (one request per 50); one that is gone is forgotten."""
        wanted = sorted(k for k, w in state.watched.items() if k not in listed and w.active >= horizon)
        found: list[Listed] = []
        for start in range(0, len(wanted), LOOKUP_BATCH):
            chunk = wanted[start : start + LOOKUP_BATCH]
            try:
                answer = self.client.get(
                    "",
                    {"ids": ",".join(chunk), "fields": self.lookup_fields()},
                    what="followed posts",
                    needs=self.read_permission,
                )
            except SourceMisconfigured:
                answer = self._one_by_one(chunk)  # one of them is gone and Graph refused the whole batch
            for key in chunk:
                item = answer.get(key)
                if item is None:
                    state.watched.pop(key, None)
                    continue
                try:
                    found.append(self.listed(item))
                except ItemError as exc:
                    run.problems.append(f"{self.source}: followed post {key}: cannot read it ({exc})")
        return found

    def _one_by_one(self, ids: Iterable[str]) -> dict[str, Any]:
        answer: dict[str, Any] = {}
        for key in ids:
            try:
                answer[key] = self.client.get(
                    key, {"fields": self.lookup_fields()}, what=f"post {key}", needs=self.read_permission
                )
            except SourceMisconfigured:
                continue
        return answer

    def walk(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        what: str,
        stop_below: Mark | None,
        run: Run,
        stamp: str = "created_time",
        ident: Callable[[Any], str] = item_id,
    ) -> list[dict[str, Any]]:
        """Pages of a listing, newest first, following `paging.cursors.after` until an item
        older than `stop_below` (its `stamp` field), the end, or `max_pages`. Items
        without an id (`ident`) or a time are problem lines; the rest are returned."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(self.max_pages):
            body = self.client.get(
                path, {**params, **({"after": after} if after else {})}, what=what, needs=self.read_permission
            )
            data = body.get("data")
            if not isinstance(data, list):
                raise SourceMisconfigured(f"{self.label} sent no list for {what}; check the ids", source=self.source)
            below = False
            for raw in data:
                try:
                    ident(raw)
                    created = created_of(raw, stamp)
                except ItemError as exc:
                    run.problems.append(f"{self.source}: {what}: skipped an item ({exc}); the rest was read")
                    continue
                below = below or (stop_below is not None and stop_below.is_below(created))
                items.append(raw)
            paging = as_dict(body.get("paging"))
            cursors = as_dict(paging.get("cursors"))
            after = cursors.get("after") if paging.get("next") else None
            if below or not after:
                return items
        run.problems.append(
            f"{self.source}: {what}: more than {self.max_pages} pages are new; the oldest of them were not read "
            "(raise max_pages or poll more often)"
        )
        return items

    def stream(
        self,
        state: MetaState,
        key: str,
        path: str,
        params: Mapping[str, Any],
        *,
        what: str,
        run: Run,
        to_post: Callable[[Mapping[str, Any]], Post],
        now: datetime,
        stamp: str = "created_time",
        ident: Callable[[Any], str] = item_id,
    ) -> None:
        """A newest-first listing without comments (tags, ratings, visitor posts), kept
        with one watermark; the first read reaches back `backfill_hours`."""
        mark = state.marks.get(key) or Mark(now - self.backfill)
        items = self.walk(path, params, what=what, stop_below=mark, run=run, stamp=stamp, ident=ident)
        run.posts += self.take(items, mark, run, to_post, what=what, stamp=stamp, ident=ident)
        state.marks[key] = mark.advanced(self.stamps(items, stamp, ident))
        run.units += 1

    def take(
        self,
        items: Iterable[Mapping[str, Any]],
        mark: Mark,
        run: Run,
        to_post: Callable[[Mapping[str, Any]], Post],
        *,
        what: str,
        stamp: str,
        ident: Callable[[Any], str] = item_id,
    ) -> list[Post]:
        """Map the items newer than `mark`; one that cannot be mapped is a problem line."""
        taken = []
        for raw in items:
            try:
                if not mark.is_new(created_of(raw, stamp), ident(raw)):
                    continue
                post = to_post(raw)
            except (ItemError, KeyError, TypeError, ValueError) as exc:
                run.problems.append(f"{self.source}: {what}: cannot map {raw.get('id', '?')} ({exc})")
                continue
            taken.append(post)
        return taken

    @staticmethod
    def stamps(
        items: Iterable[Mapping[str, Any]], stamp: str, ident: Callable[[Any], str] = item_id
    ) -> list[tuple[datetime, str]]:
        found = []
        for raw in items:
            try:
                found.append((created_of(raw, stamp), ident(raw)))
            except ItemError:
                continue
        return found

    # --- reply, the brand's own replies, moderation --------------------------------------
    def reply_path(self, target: str) -> str:
        raise NotImplementedError

    def own_replies_under(self, target: str) -> list[dict[str, Any]]:
        """The replies under `target` that the Page or account wrote (newest first)."""
        raise NotImplementedError

    def hide_field(self) -> str:
        raise NotImplementedError

    def reply(self, post: Post, text: str) -> PostedReply:
        """Answer `post` publicly as the Page or account. Raises ReplyRejected (too long,
        gone, not answerable here) or ReplyOutcomeUnknown (timeout: look before resending)."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a {self.label} post", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        size, limit = self.reply_length(text), self.max_reply_length or 0
        if size > limit:
            raise ReplyRejected(
                f"the reply to {post.key} is {size} characters; {self.label} allows {limit}. Cut {size - limit}.",
                source=self.source,
            )
        self.refuse_reply(post)
        body = self.client.post(
            self.reply_path(reply_target(post)),
            {"message": text},
            what=f"the reply to {post.key}",
            needs=self.write_permission,
        )
        reply_id = body.get("id")
        if not isinstance(reply_id, str) or not reply_id:
            raise ReplyOutcomeUnknown(
                f"{self.label} accepted the reply to {post.key} but returned no id; it may have been posted",
                source=self.source,
            )
        return PostedReply(
            platform=self.name, native_id=reply_id, url=self.reply_url(post, reply_id), posted_at=self.clock()
        )

    def refuse_reply(self, post: Post) -> None:
        """Raise ReplyRejected for a post this platform cannot answer through the API."""

    def reply_url(self, post: Post, reply_id: str) -> str:
        raise NotImplementedError

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The Page's or account's reply under `post` (with these words, or any), made by
        us before a timeout or natively in Meta Business Suite; None when there is none."""
        try:
            replies = self.own_replies_under(reply_target(post))
        except SourceMisconfigured:
            return None  # the comment is gone, and any reply with it
        for raw in replies:
            try:
                created = created_of(raw, "timestamp" if "timestamp" in raw else "created_time")
                words = str(raw.get("message") or raw.get("text") or "")
                if created < post.created_at or (text is not None and not same_text(words, text)):
                    continue
                reply_id = item_id(raw)
            except ItemError:
                continue
            return PostedReply(
                platform=self.name, native_id=reply_id, url=self.reply_url(post, reply_id), posted_at=created
            )
        return None

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """One request per post; the Page's own replies also arrive through fetch (with
        their parent), which closes answered items without asking."""
        return own_replies_one_by_one(self, posts)

    def hide(self, post: Post) -> None:
        """Hide a comment from everyone but its author and their friends."""
        self._set_hidden(post, True)

    def unhide(self, post: Post) -> None:
        """Show a hidden comment again."""
        self._set_hidden(post, False)

    def _set_hidden(self, post: Post, hidden: bool) -> None:
        if post.kind not in (PostKind.COMMENT, PostKind.REPLY) or post.platform != self.name:
            raise ReplyRejected(
                f"post {post.key} is not a comment on the {self.label} "
                f"{'Page' if self.name == 'facebook' else 'account'}; only those can be hidden here",
                source=self.source,
            )
        verb = "hiding" if hidden else "unhiding"
        body = self.client.post(
            post.native_id,
            {self.hide_field(): "true" if hidden else "false"},
            what=f"{verb} {post.key}",
            needs=self.write_permission,
        )
        if body.get("success") is not True:
            raise ReplyOutcomeUnknown(f"{self.label} did not confirm {verb} {post.key}", source=self.source)

    # --- watcher check ----------------------------------------------------------------
    def token_problems(self, required: Sequence[str]) -> list[str]:
        """With an app token, /debug_token says whether the token is valid, when it
        expires and which of `required` it lacks; without one, nothing (the probes of
        `check` find missing permissions by asking)."""
        if not self.app_token:
            return []
        answer = self.client.get(
            "debug_token",
            {"input_token": self.client.token},
            what="the token's details",
            needs="an app token (APP_ID|APP_SECRET)",
            token=self.app_token,
        )
        data = as_dict(answer.get("data"))
        if not data.get("is_valid"):
            return [f"{self.source}: the token in {self.client.token_hint} is not valid; make a new Page token"]
        problems = []
        scopes = set(data.get("scopes") or ())
        missing = [name for name in required if name not in scopes]
        if missing:
            problems.append(f"{self.source}: the token lacks {', '.join(missing)}; grant them and make a new token")
        expires = data.get("expires_at")
        if isinstance(expires, int) and expires and expires - self.clock().timestamp() < 7 * 86400:
            problems.append(f"{self.source}: the token expires within a week; make a long-lived Page token")
        return problems
