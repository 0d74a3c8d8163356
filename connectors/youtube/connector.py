"""YouTube: comments and replies under the channel's videos, answered as the channel.

A poll lists the channel's comment threads (`commentThreads.list`,
`allThreadsRelatedToChannelId`, newest first, replies included) down to the
watermark of the newest top-level comment read. Each listed thread keeps its reply
count in the cursor; when it grows past the replies the listing included, that
thread's replies are read with `comments.list` (1 unit). An idle poll is 1 request
and 1 quota unit. The cursor also counts the units polling spent today (Pacific
time): polling stops at the daily quota less `reply_reserve` replies, which stay
for the team.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from connectors.base import (
    BudgetRow,
    Connector,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyRejected,
    SourceMisconfigured,
    own_replies_one_by_one,
)
from connectors.meta.mapping import same_text
from connectors.meta.state import Mark
from connectors.shared import blocked_until, check_base_url, check_ranges, refuse_while_blocked
from connectors.youtube import budget
from connectors.youtube.client import TOKEN_URL, YOUTUBE_URL, YouTubeClient, make_client
from connectors.youtube.mapping import (
    MAX_REPLY_LENGTH,
    YOUTUBE,
    ItemError,
    author_channel,
    comment_id,
    comment_to_post,
    comment_url,
    included_replies,
    published_at,
    reply_count,
    reply_target,
    top_comment,
)
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post

CURSOR_VERSION = 1
MAX_THREADS = 500  # threads whose reply counts the cursor keeps (the newest)


@dataclass
class YouTubeState:
    mark: Mark = field(default_factory=Mark)
    # thread id -> (its reply count when last read, the newest reply read)
    threads: dict[str, tuple[int, Mark]] = field(default_factory=dict)
    day: str = ""
    units: int = 0  # spent by polling on `day`
    blocked_until: datetime | None = None

    def to_cursor(self) -> Cursor:
        return Cursor({"v": CURSOR_VERSION, "mark": self.mark.to_json(), "threads": {k: {"count": n, "mark": m.to_json()} for k, (n, m) in self.threads.items()}, "day": self.day,
                       "units": self.units,
                       "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None})  # fmt: skip

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> YouTubeState:
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data = cursor.state
        threads = {str(k): (int(v.get("count") or 0), Mark.from_json(v.get("mark")))
                   for k, v in (data.get("threads") or {}).items() if isinstance(v, Mapping)}  # fmt: skip
        return cls(Mark.from_json(data.get("mark")), threads, str(data.get("day") or ""), int(data.get("units") or 0),
                   blocked_until(data))  # fmt: skip


class YouTubeConnector(Connector):
    name: ClassVar[str] = YOUTUBE
    max_reply_length: int = MAX_REPLY_LENGTH

    def __init__(
        self,
        client: YouTubeClient,
        *,
        channel_id: str,
        source: str,
        daily_quota: int = budget.DAILY_QUOTA,
        reply_reserve: int = budget.DEFAULT_REPLY_RESERVE,
        page_size: int = 100,
        max_pages: int = 5,
        backfill_hours: int = 24,
        request_timeout: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.channel_id = channel_id
        self.source = source
        client.source = source
        self.polling_allowance = daily_quota - reply_reserve * budget.REPLY_COST
        self.page_size = page_size
        self.max_pages = max_pages
        self.backfill = timedelta(hours=backfill_hours)
        self.request_timeout = request_timeout  # the queue's send lease is sized from it
        if clock is not None:
            client.clock = clock

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.client.clock

    @classmethod
    def plan_budget(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[BudgetRow]:
        """A quota line per project (OAuth client) for `watcher check` (see budget.py)."""
        lines = budget.plan_budget(sources, native_check_minutes=native_check_minutes)
        return [BudgetRow(text=line.text, ok=line.ok, sources=line.sources, fix=line.fix) for line in lines]

    @classmethod
    def budget_problems(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
        """Projects whose polling leaves less than the replies' share, naming the intervals."""
        return budget.budget_problems(sources, native_check_minutes=native_check_minutes)

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        channel_id = opts.get("channel_id", str)
        client_id = opts.secret("client_id_env", "YOUTUBE_CLIENT_ID")
        client_secret = opts.secret("client_secret_env", "YOUTUBE_CLIENT_SECRET")
        refresh_token = opts.secret("refresh_token_env", "YOUTUBE_REFRESH_TOKEN")
        hint = str(cfg.options.get("refresh_token_env") or "YOUTUBE_REFRESH_TOKEN")
        base_url = opts.get("base_url", str, YOUTUBE_URL)
        token_url = opts.get("token_url", str, TOKEN_URL)
        quota = opts.get("daily_quota", int, budget.DAILY_QUOTA)
        reserve = opts.get("reply_reserve", int, budget.DEFAULT_REPLY_RESERVE)
        page_size = opts.get("page_size", int, 100)
        max_pages = opts.get("max_pages", int, 5)
        timeout = opts.get("timeout_seconds", float, 20.0)
        check_ranges(opts, {"daily_quota": (quota, 100, 10**7), "reply_reserve": (reserve, 0, 10**5),
                            "page_size": (page_size, 1, 100), "max_pages": (max_pages, 1, 50),
                            "timeout_seconds": (timeout, 0.1, 300)})  # fmt: skip
        check_base_url(opts, "base_url", base_url)
        check_base_url(opts, "token_url", token_url)
        if channel_id is not None and not (channel_id.startswith("UC") and len(channel_id) == 24):
            opts.problems.append(ConfigProblem(cfg.file, f"sources.{cfg.name}.channel_id",
                                               'must be the channel\'s id, like "UCxxxxxxxxxxxxxxxxxxxxxx"'))  # fmt: skip
        opts.finish()
        client = make_client(base_url=base_url, token_url=token_url, client_id=client_id,
                             client_secret=client_secret, refresh_token=refresh_token, timeout=timeout,
                             source=cfg.name, secrets_hint=hint)  # fmt: skip
        return cls(client, channel_id=str(channel_id), source=cfg.name, daily_quota=quota, reply_reserve=reserve,
                   page_size=page_size, max_pages=max_pages, backfill_hours=cfg.backfill_hours,
                   request_timeout=timeout)  # fmt: skip

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        self.client.http.close()

    def reply_length(self, text: str) -> int:
        return len(text)

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New comments and replies since `cursor`, oldest first."""
        state = YouTubeState.from_cursor(cursor)
        now = self.clock()
        refuse_while_blocked(state.blocked_until, now, platform="YouTube", source=self.source, endpoint="youtube")
        today = budget.quota_day(now)
        if state.day != today:
            state.day, state.units = today, 0
        if state.units + budget.LIST_COST > self.polling_allowance:
            until = budget.next_quota_reset(now)
            raise RateLimited(
                f"polling has spent its share of today's YouTube quota ({state.units} units); the rest is kept for "
                f"replies; polling resumes at {until:%H:%M} UTC (raise interval_seconds to spread it over the day)",
                until=until,
                endpoint="youtube",
                source=self.source,
            )
        start, units = self.client.count, self.client.units
        if state.mark.at is None:
            state.mark = Mark(now - self.backfill)  # the first run reaches back backfill_hours
        posts: list[Post] = []
        problems: list[str] = []
        threads = self._threads(state.mark, problems)
        for thread in threads:
            posts += self._thread_posts(thread, state, problems)
        state.units += self.client.units - units
        state.mark = state.mark.advanced(self.stamps(threads))
        newest = sorted(state.threads.items(), key=lambda kv: kv[1][1].at or now)[-MAX_THREADS:]
        state.threads = dict(newest)
        held = self.client.blocked_until
        state.blocked_until = held if held is not None and held > now else None
        posts.sort(key=lambda p: (p.created_at, p.native_id))
        return FetchResult(posts=tuple(posts), cursor=state.to_cursor(), requests_made=self.client.count - start,
                           problems=tuple(problems))  # fmt: skip

    @staticmethod
    def stamps(threads: Sequence[Mapping[str, Any]]) -> list[tuple[datetime, str]]:
        found = []
        for thread in threads:
            try:
                found.append((published_at(top_comment(thread)), comment_id(thread)))
            except ItemError:
                continue
        return found

    def _threads(self, mark: Mark, problems: list[str]) -> list[dict[str, Any]]:
        """Comment threads newest first, down to the first one older than `mark`."""
        threads: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(self.max_pages):
            request = self.client.service.commentThreads().list(
                part="snippet,replies", allThreadsRelatedToChannelId=self.channel_id, order="time",
                maxResults=self.page_size, textFormat="plainText", **({"pageToken": token} if token else {}),
            )  # fmt: skip
            body = self.client.execute(request, cost=budget.LIST_COST, what="the channel's comment threads")
            below = False
            for raw in body.get("items") or []:
                try:
                    created = published_at(top_comment(raw))
                    comment_id(raw)
                except ItemError as exc:
                    problems.append(f"{self.source}: a comment thread: skipped ({exc}); the rest was read")
                    continue
                below = below or mark.is_below(created)
                threads.append(raw)
            token = body.get("nextPageToken") if isinstance(body.get("nextPageToken"), str) else None
            if below or not token:
                return threads
        problems.append(f"{self.source}: more than {self.max_pages} pages of threads are new; the oldest were not "
                        "read (raise max_pages or poll more often)")  # fmt: skip
        return threads

    def _thread_posts(self, thread: Mapping[str, Any], state: YouTubeState, problems: list[str]) -> list[Post]:
        """The thread's top comment when new, and its replies not read before."""
        thread_id = comment_id(thread)
        top = top_comment(thread)
        posts: list[Post] = []
        try:
            if state.mark.is_new(published_at(top), thread_id):
                posts.append(comment_to_post(top, channel_id=self.channel_id, source=self.source))
            top_text = str(top["snippet"].get("textDisplay") or "")
            own_thread = author_channel(top["snippet"]) == self.channel_id
        except (ItemError, KeyError, TypeError) as exc:
            problems.append(f"{self.source}: comment {thread_id}: cannot map it ({exc}); the rest was read")
            return posts
        total = reply_count(thread)
        count, mark = state.threads.get(thread_id) or (-1, Mark(state.mark.at))
        if total == count:
            return posts  # no reply came or went: nothing to ask
        replies = included_replies(thread)
        if count >= 0 and len(replies) < total:  # a followed thread whose new replies the listing left out (1 unit)
            replies = self._replies(thread_id)
        fresh = []
        for raw in replies:
            try:
                at, reply_id = published_at(raw), comment_id(raw)
                if mark.is_new(at, reply_id):
                    posts.append(comment_to_post(raw, channel_id=self.channel_id, source=self.source,
                                                 thread_id=thread_id, thread_text=top_text, thread_is_own=own_thread))  # fmt: skip
                fresh.append((at, reply_id))
            except ItemError as exc:
                problems.append(f"{self.source}: a reply in thread {thread_id}: cannot map it ({exc})")
        state.threads[thread_id] = (total, mark.advanced(fresh))
        return posts

    def _replies(self, thread_id: str) -> list[dict[str, Any]]:
        replies: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(self.max_pages):
            request = self.client.service.comments().list(part="snippet", parentId=thread_id, maxResults=100,
                                                          textFormat="plainText", **({"pageToken": token} if token else {}))  # fmt: skip
            body = self.client.execute(request, cost=budget.LIST_COST, what=f"the replies in thread {thread_id}")
            replies += [r for r in body.get("items") or [] if isinstance(r, dict)]
            token = body.get("nextPageToken") if isinstance(body.get("nextPageToken"), str) else None
            if not token:
                break
        return replies

    # --- reply ------------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Answer `post` as the channel, in its thread (comments.insert, 50 units)."""
        if post.platform != self.name:
            raise ReplyRejected(f"post {post.key} is not a YouTube comment", source=self.source)
        if not text.strip():
            raise ReplyRejected(f"the reply to {post.key} is empty", source=self.source)
        if len(text) > MAX_REPLY_LENGTH:
            raise ReplyRejected(f"the reply to {post.key} is {len(text)} characters; YouTube allows "
                                f"{MAX_REPLY_LENGTH}. Shorten it", source=self.source)  # fmt: skip
        request = self.client.service.comments().insert(
            part="snippet", body={"snippet": {"parentId": reply_target(post), "textOriginal": text}}
        )
        body = self.client.execute(request, cost=budget.REPLY_COST, what=f"the reply to {post.key}", writing=True)
        native = str(body.get("id") or "")
        video = (
            str(post.raw.get("snippet", {}).get("videoId") or "")
            if isinstance(post.raw.get("snippet"), Mapping)
            else ""
        )
        return PostedReply(platform=self.name, native_id=native, url=comment_url(video, native) if video else post.url,
                           posted_at=self.clock())  # fmt: skip

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The channel's reply in `post`'s thread made after it (with `text`, when given):
        one comments.list (1 unit); a deleted thread has none."""
        try:
            replies = self._replies(reply_target(post))
        except SourceMisconfigured:
            return None  # the thread is gone, and with it any reply
        for raw in replies:
            try:
                mine = comment_to_post(
                    raw, channel_id=self.channel_id, source=self.source, thread_id=reply_target(post)
                )
            except ItemError:
                continue
            if mine.is_own and mine.created_at >= post.created_at and (text is None or same_text(mine.text, text)):
                return PostedReply(
                    platform=self.name, native_id=mine.native_id, url=mine.url, posted_at=mine.created_at
                )
        return None

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """One comments.list per post (1 unit each; planned in the quota line)."""
        return own_replies_one_by_one(self, posts)


CONNECTOR = YouTubeConnector
