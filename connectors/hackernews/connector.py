"""Hacker News, read-only, through the public Algolia search API: stories and comments
that name the brand (`search_by_date`, newest first, `numericFilters=created_at_i>=`
the watermark), one request per search term when idle.

HN has no API for posting: `reply` refuses, saying where to answer; the team answers
on news.ycombinator.com and marks the item handled. With `brand_account` set, the
account's own comments are recognised, and the native-reply check finds an answer
made there (one search per post, `tags=comment,author_X,story_Y`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Self

import httpx

from connectors.base import (
    Connector,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
    own_replies_one_by_one,
)
from connectors.hackernews.mapping import HACKERNEWS, ITEM_URL, ItemError, hit_id, hit_time, hit_to_post
from connectors.meta.state import Mark
from connectors.shared import Run, blocked_until, check_base_url, check_ranges, refuse_while_blocked
from watcher.core.config import SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post, utc_now

ALGOLIA_URL = "https://hn.algolia.com/api/v1"
CURSOR_VERSION = 1
RATE_PAUSE = timedelta(hours=1)  # Algolia allows 10,000 requests an hour per address


@dataclass
class HackerNewsState:
    marks: dict[str, Mark] = field(default_factory=dict)
    blocked_until: datetime | None = None

    def to_cursor(self) -> Cursor:
        return Cursor({"v": CURSOR_VERSION, "marks": {k: m.to_json() for k, m in sorted(self.marks.items())},
                       "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None})  # fmt: skip

    @classmethod
    def from_cursor(cls, cursor: Cursor | None) -> HackerNewsState:
        if cursor is None or cursor.state.get("v") != CURSOR_VERSION:
            return cls()
        data = cursor.state
        return cls({str(k): Mark.from_json(v) for k, v in (data.get("marks") or {}).items()}, blocked_until(data))


class HackerNewsConnector(Connector):
    name: ClassVar[str] = HACKERNEWS

    def __init__(
        self,
        http: httpx.Client,
        *,
        source: str,
        searches: Sequence[str],
        brand_account: str = "",
        include_comments: bool = True,
        page_size: int = 100,
        max_pages: int = 5,
        backfill_hours: int = 24,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.http = http
        self.source = source
        self.searches = tuple(searches)
        self.brand_account = brand_account
        self.tags = "(story,comment)" if include_comments else "story"
        self.page_size = page_size
        self.max_pages = max_pages
        self.backfill = timedelta(hours=backfill_hours)
        self.clock = clock
        self.count = 0
        self.blocked_until: datetime | None = None
        timeout = http.timeout.read
        self.request_timeout: float | None = float(timeout) if timeout is not None else None

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        searches = opts.get("search", tuple[str, ...])
        brand = opts.get("brand_account", str, "")
        comments = opts.get("include_comments", bool, True)
        base_url = opts.get("base_url", str, ALGOLIA_URL).rstrip("/")
        page_size = opts.get("page_size", int, 100)
        max_pages = opts.get("max_pages", int, 5)
        timeout = opts.get("timeout_seconds", float, 20.0)
        check_ranges(opts, {"page_size": (page_size, 1, 1000), "max_pages": (max_pages, 1, 50),
                            "timeout_seconds": (timeout, 0.1, 300)})  # fmt: skip
        check_base_url(opts, "base_url", base_url)
        opts.finish()
        http = httpx.Client(base_url=base_url, timeout=timeout, follow_redirects=False)  # the only real client
        return cls(http, source=cfg.name, searches=searches or (), brand_account=brand, include_comments=comments,
                   page_size=page_size, max_pages=max_pages, backfill_hours=cfg.backfill_hours)  # fmt: skip

    def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        self.http.close()

    def reply_length(self, text: str) -> int:
        return len(text)

    # --- fetch ------------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New stories and comments naming the brand since `cursor`, oldest first."""
        state = HackerNewsState.from_cursor(cursor)
        now = self.clock()
        refuse_while_blocked(state.blocked_until, now, platform="Hacker News search", source=self.source,
                             endpoint="algolia")  # fmt: skip
        start = self.count
        run = Run()
        run.read([partial(self._search, state, term=term, now=now) for term in self.searches], source=self.source)
        held = self.blocked_until
        state.blocked_until = held if held is not None and held > now else None
        return run.result(state.to_cursor(), self.count - start)

    def _search(self, state: HackerNewsState, run: Run, *, term: str, now: datetime) -> None:
        mark = state.marks.get(term) or Mark(now - self.backfill)
        since = int(mark.at.timestamp()) if mark.at else 0
        seen: list[tuple[datetime, str]] = []
        for page in range(self.max_pages):
            body = self._get("/search_by_date", {"query": term, "tags": self.tags, "hitsPerPage": self.page_size,
                                                 "numericFilters": f"created_at_i>={since}", "page": page},
                             what=f"the search {term!r}")  # fmt: skip
            hits = body.get("hits")
            if not isinstance(hits, list):
                raise SourceUnavailable(f"Hacker News search sent no hits for {term!r}; will retry", source=self.source)
            for hit in hits:
                try:
                    at, native = hit_time(hit), hit_id(hit)
                    seen.append((at, native))
                    if mark.is_new(at, native):
                        run.posts.append(hit_to_post(hit, source=self.source, brand_account=self.brand_account))
                except ItemError as exc:
                    run.problems.append(f"{self.source}: the search {term!r}: skipped a hit ({exc}); the rest was read")
            pages = body.get("nbPages")
            if not isinstance(pages, int) or page + 1 >= pages:
                break
        else:
            run.problems.append(f"{self.source}: the search {term!r}: more than {self.max_pages} pages are new; the "
                                "oldest were not read (raise max_pages or poll more often)")  # fmt: skip
        state.marks[term] = mark.advanced(seen)

    def _get(self, path: str, params: Mapping[str, Any], *, what: str) -> dict[str, Any]:
        now = self.clock()
        if self.blocked_until is not None and now < self.blocked_until:
            raise RateLimited(f"Hacker News search asked us to wait; no request before {self.blocked_until:%H:%M} UTC",
                              until=self.blocked_until, endpoint="algolia", source=self.source)  # fmt: skip
        self.count += 1
        try:
            response = self.http.get(path, params=params)
        except httpx.TimeoutException:
            raise SourceUnavailable(f"Hacker News search did not answer in time for {what}; will retry",
                                    source=self.source) from None  # fmt: skip
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"cannot reach Hacker News search for {what} ({type(exc).__name__}); will retry",
                                    source=self.source) from None  # fmt: skip
        if response.status_code == 429:
            after = response.headers.get("Retry-After", "")
            until = now + (timedelta(seconds=int(after)) if after.isdigit() else RATE_PAUSE)
            self.blocked_until = until
            raise RateLimited(f"Hacker News search rate-limited {what}; no request before {until:%H:%M} UTC",
                              until=until, endpoint="algolia", source=self.source)  # fmt: skip
        if response.status_code >= 500:
            raise SourceUnavailable(f"Hacker News search answered HTTP {response.status_code} for {what}; will retry",
                                    source=self.source)  # fmt: skip
        if response.status_code >= 400:
            raise SourceMisconfigured(f"Hacker News search refused {what} (HTTP {response.status_code}: "
                                      f"{response.text[:200]}); check the search terms", source=self.source)  # fmt: skip
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SourceUnavailable(
                f"Hacker News search sent no JSON object for {what}; will retry", source=self.source
            )
        return body

    # --- read-only: where to answer -----------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        """Hacker News has no API to post: always ReplyRejected, saying where to answer."""
        raise ReplyRejected(
            f"Hacker News cannot be answered from here (it has no API for posting): open "
            f"{ITEM_URL.format(post.native_id)}, reply there as {self.brand_account or 'the brand account'}, then mark "
            "the item handled",
            source=self.source,
        )

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand account's comment directly under `post`, made on HN (one search);
        None without `brand_account`."""
        if not self.brand_account:
            return None
        story = post.conversation_id or post.native_id
        body = self._get("/search_by_date", {"tags": f"comment,author_{self.brand_account},story_{story}",
                                             "hitsPerPage": 100}, what=f"answers to {post.key}")  # fmt: skip
        for hit in body.get("hits") or []:
            try:
                mine = hit_to_post(hit, source=self.source, brand_account=self.brand_account)
            except ItemError:
                continue
            if mine.is_own and mine.parent_id == post.native_id:
                return PostedReply(platform=self.name, native_id=mine.native_id, url=mine.url,
                                   posted_at=mine.created_at)  # fmt: skip
        return None

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """One search per post."""
        return own_replies_one_by_one(self, posts)


CONNECTOR = HackerNewsConnector
