"""Mastodon: mentions of the brand account (notifications of type mention), hashtag
timelines, and full-text search where the instance offers it; replies as the account
with `in_reply_to_id`, within the instance's own character limit.

Every listing is read forward from the newest id read (`min_id`), a page at a time,
so an idle poll asks one request per listing (the mentions, each hashtag, each search
term). The account and the instance's configuration (`statuses.max_characters`) are
read at the first poll and again daily; so is whether the instance searches posts: an
instance without full-text search (no Elasticsearch/OpenSearch) finds none of the
account's own posts for `from:me`, and then the search terms are skipped with a
problem line saying so. Replies carry an Idempotency-Key, and the author's @handle.
"""

from __future__ import annotations

import hashlib
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
from connectors.mastodon.client import MastodonClient, Meter, make_sdk
from connectors.mastodon.mapping import (
    DEFAULT_MAX_CHARACTERS,
    MASTODON,
    ItemError,
    created_of,
    id_order,
    local_mentions,
    mastodon_length,
    status_id,
    status_to_post,
    with_mention,
)
from connectors.meta.mapping import same_text
from connectors.shared import Run, blocked_until, check_base_url, check_ranges, refuse_while_blocked
from watcher.core.config import SourceConfig, SourceOptions, shown_env_name
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp

CURSOR_VERSION = 1
RECHECK = timedelta(days=1)  # the account, the instance's limits and its search are read again daily
VISIBILITIES = ("public", "unlisted", "private", "direct")


@dataclass
class MastodonState:
    marks: dict[str, str] = field(default_factory=dict)  # listing -> newest id read
    account_id: str = ""
    acct: str = ""
    max_characters: int = DEFAULT_MAX_CHARACTERS
    searchable: bool | None = None
    checked: datetime | None = None
    blocked_until: datetime | None = None

    def to_cursor(self) -> Cursor:
        return Cursor({"v": CURSOR_VERSION, "marks": dict(sorted(self.marks.items())), "account_id": self.account_id,
                       "acct": self.acct, "max_characters": self.max_characters, "searchable": self.searchable,
                       "checked": self.checked.isoformat() if self.checked else None,
                       "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None})  # fmt: skip

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> MastodonState:
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data = cursor.state
        checked = data.get("checked")
        return cls({str(k): str(v) for k, v in (data.get("marks") or {}).items()}, str(data.get("account_id") or ""),
                   str(data.get("acct") or ""), int(data.get("max_characters") or DEFAULT_MAX_CHARACTERS),
                   data.get("searchable"), parse_timestamp(str(checked)) if checked else None,
                   blocked_until(data))  # fmt: skip


class MastodonConnector(Connector):
    name: ClassVar[str] = MASTODON

    def __init__(
        self,
        client: MastodonClient,
        *,
        source: str,
        hashtags: Sequence[str] = (),
        searches: Sequence[str] = (),
        include_mentions: bool = True,
        page_limit: int = 40,
        max_pages: int = 5,
        backfill_hours: int = 24,
        request_timeout: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.source = source
        client.source = source
        self.hashtags = tuple(tag.lstrip("#") for tag in hashtags)
        self.searches = tuple(searches)
        self.include_mentions = include_mentions
        self.page_limit = page_limit
        self.max_pages = max_pages
        self.backfill = timedelta(hours=backfill_hours)
        self.request_timeout = request_timeout  # the queue's send lease is sized from it
        self.known = MastodonState()  # the account and limits, as last read (replies use them)
        # the instance's own limit (configuration.statuses.max_characters), once read
        self.max_reply_length: int | None = DEFAULT_MAX_CHARACTERS
        if clock is not None:
            client.meter.clock = clock

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.client.clock

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        instance = str(opts.get("instance_url", str) or "").rstrip("/")
        token = opts.secret("access_token_env", "MASTODON_ACCESS_TOKEN")
        hint = shown_env_name(str(cfg.options.get("access_token_env") or "MASTODON_ACCESS_TOKEN"),
                              f"sources.{cfg.name}.access_token_env")  # fmt: skip
        hashtags = opts.get("hashtags", tuple[str, ...], ())
        searches = opts.get("search", tuple[str, ...], ())
        mentions = opts.get("include_mentions", bool, True)
        page_limit = opts.get("page_limit", int, 40)
        max_pages = opts.get("max_pages", int, 5)
        timeout = opts.get("timeout_seconds", float, 20.0)
        check_ranges(opts, {"page_limit": (page_limit, 1, 80), "max_pages": (max_pages, 1, 50),
                            "timeout_seconds": (timeout, 0.1, 300)})  # fmt: skip
        check_base_url(opts, "instance_url", instance)
        opts.finish()
        meter = Meter()
        sdk = make_sdk(base_url=instance, token=token, timeout=timeout, meter=meter)
        client = MastodonClient(sdk, meter, instance=instance.split("://")[-1], token_hint=hint)
        return cls(client, source=cfg.name, hashtags=hashtags, searches=searches, include_mentions=mentions,
                   page_limit=page_limit, max_pages=max_pages, backfill_hours=cfg.backfill_hours,
                   request_timeout=timeout)  # fmt: skip

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        self.client.sdk.session.close()

    def reply_length(self, text: str) -> int:
        """Mastodon counts a link as 23 characters and a mention without its domain."""
        return mastodon_length(text)

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New mentions, hashtag posts and search hits since `cursor`, oldest first."""
        state = MastodonState.from_cursor(cursor)
        now = self.clock()
        refuse_while_blocked(state.blocked_until, now, platform=self.client.instance, source=self.source,
                             endpoint="mastodon")  # fmt: skip
        start = self.client.meter.count
        run = Run()
        listings = ["mentions"] if self.include_mentions else []
        listings += [f"tag:{tag}" for tag in self.hashtags]
        self._learn(state, run, now=now)  # daily: the account, the limit, whether searches run
        units: list[Callable[[Run], None]] = []

        def searches(run: Run) -> None:
            for term in self.searches if state.searchable else ():
                self._listing(state, run, key=f"search:{term}", now=now)

        units += [partial(self._listing, state, key=key, now=now) for key in listings] + [searches]
        run.read(units, source=self.source)
        held = self.client.meter.blocked_until
        state.blocked_until = held if held is not None and held > now else None
        return run.result(state.to_cursor(), self.client.meter.count - start)

    def _learn(self, state: MastodonState, run: Run, *, now: datetime) -> None:
        """The account, the instance's limit and whether it searches posts, daily."""
        if state.checked is not None and now - state.checked < RECHECK and state.account_id:
            self.known = state
            self.max_reply_length = state.max_characters
            return
        me = self.client.call(self.client.sdk.account_verify_credentials, what="the account")
        state.account_id, state.acct = str(me["id"]), str(me.get("acct") or me.get("username") or "")
        instance = self.client.call(self.client.sdk.instance_v2, what="the instance's configuration")
        statuses = (
            ((instance.get("configuration") or {}).get("statuses") or {}) if isinstance(instance, Mapping) else {}
        )
        limit = statuses.get("max_characters")
        state.max_characters = limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_CHARACTERS
        if self.searches:
            state.searchable = self._searches_posts(me)
            if not state.searchable:
                run.problems.append(
                    f"{self.source}: {self.client.instance} does not offer full-text search of posts (it found none "
                    f"of the account's own for 'from:me'), so the search terms {', '.join(self.searches)} are not "
                    "read; follow hashtags instead, or use an account on an instance with search (asked again daily)"
                )
        state.checked = now
        self.known = state
        self.max_reply_length = state.max_characters

    def _searches_posts(self, me: Mapping[str, Any]) -> bool:
        """Whether the instance searches post text: with full-text search it finds the
        account's own posts; without it, none. An account without posts cannot tell: yes."""
        if not me.get("statuses_count"):
            return True
        try:
            found = self.client.call(
                lambda: self.client.sdk.search_v2("from:me", resolve=False, result_type="statuses", limit=1),
                what="a search probe",
            )
        except SourceMisconfigured:
            return False  # the instance refused the search outright
        return bool(found.get("statuses"))

    def _page(self, key: str, min_id: str | None) -> list[Any]:
        sdk, limit = self.client.sdk, self.page_limit
        kind, _, name = key.partition(":")
        if kind == "mentions":
            return self.client.call(lambda: sdk.notifications(types=["mention"], min_id=min_id, limit=limit),
                                    what="the mentions")  # fmt: skip
        if kind == "tag":
            return self.client.call(lambda: sdk.timeline_hashtag(name, min_id=min_id, limit=limit),
                                    what=f"the hashtag #{name}")  # fmt: skip
        found = self.client.call(lambda: sdk.search_v2(name, resolve=False, result_type="statuses", min_id=min_id,
                                                       limit=limit), what=f"the search {name!r}")  # fmt: skip
        return list(found.get("statuses") or [])

    def _listing(self, state: MastodonState, run: Run, *, key: str, now: datetime) -> None:
        """One listing read forward from its mark (the first read: its newest page,
        back to `backfill_hours`); counted once complete."""
        mark = state.marks.get(key)
        floor = now - self.backfill
        newest = mark
        for _ in range(self.max_pages):
            items = self._page(key, mark)
            for raw in items:
                try:
                    status_id(raw)  # a notification's own id, or the status's
                    status = raw.get("status") if key == "mentions" else raw
                    if mark is None and created_of(raw) < floor:
                        continue
                    run.posts.append(status_to_post(status, account_id=state.account_id, source=self.source))
                except ItemError as exc:
                    run.problems.append(f"{self.source}: {key}: skipped an item ({exc}); the rest was read")
                    continue
                finally:
                    if isinstance(raw, Mapping) and raw.get("id") is not None:
                        newest = max(newest or "", str(raw["id"]), key=id_order)
            if mark is None or len(items) < self.page_limit:
                break
            mark = newest
        else:
            run.problems.append(f"{self.source}: {key}: more than {self.max_pages} pages are new; the rest follows "
                                "at the next poll")  # fmt: skip
        # a first read that found nothing saw an empty listing: everything after id 0 is new
        state.marks[key] = newest or "0"

    # --- reply ------------------------------------------------------------------------
    def _ensure_known(self) -> None:
        if not self.known.account_id:
            state = MastodonState()
            self._learn(state, Run(), now=self.clock())

    def reply(self, post: Post, text: str) -> PostedReply:
        """Answer `post` as the account (`in_reply_to_id`, its visibility, @author first).
        Raises ReplyRejected (too long, deleted) or ReplyOutcomeUnknown."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a Mastodon post", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        self._ensure_known()
        text = with_mention(text, post.author.handle)
        size, limit = mastodon_length(text), self.known.max_characters
        if size > limit:
            raise ReplyRejected(f"the reply to {post.key} is {size} characters with the @mention; "
                                f"{self.client.instance} allows {limit}. Shorten it", source=self.source)  # fmt: skip
        visibility = post.raw.get("visibility")
        key = hashlib.sha256(f"{post.key}\n{text}".encode()).hexdigest()[:32]  # the instance keeps it an hour
        made = self.client.call(
            lambda: self.client.sdk.status_post(
                text, in_reply_to_id=post.native_id, language=post.lang, idempotency_key=key,
                visibility=visibility if visibility in VISIBILITIES else "public",
            ),
            what=f"the reply to {post.key}",
            writing=True,
        )  # fmt: skip
        return PostedReply(platform=self.name, native_id=str(made["id"]), url=str(made.get("url") or ""),
                           posted_at=created_of(made))  # fmt: skip

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The account's direct reply to `post` (with `text`, when given): one context read."""
        self._ensure_known()
        try:
            context = self.client.call(lambda: self.client.sdk.status_context(post.native_id), what=post.key)
        except SourceMisconfigured:
            return None  # the post is gone, and with it any reply
        wanted = local_mentions(with_mention(text, post.author.handle)) if text is not None else None
        for raw in context.get("descendants") or []:
            try:
                mine = status_to_post(raw, account_id=self.known.account_id, source=self.source)
            except ItemError:
                continue
            if mine.is_own and mine.parent_id == post.native_id and (wanted is None or same_text(mine.text, wanted)):
                return PostedReply(
                    platform=self.name, native_id=mine.native_id, url=mine.url, posted_at=mine.created_at
                )
        return None

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """One context read per post."""
        return own_replies_one_by_one(self, posts)


CONNECTOR = MastodonConnector
