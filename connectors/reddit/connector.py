"""Reddit: the brand's subreddits, keyword search, the brand account's inbox, and the public reply.

Built on praw. One `praw.Reddit` per connector object (praw is not thread-safe,
and the scheduler runs one job thread per source); it is built only in
`from_config`, so tests inject one pointed at a fake server through praw's
`oauth_url`/`reddit_url` settings.

Listings are read as Reddit's own JSON (`Reddit.request`), so the mapping to
`Post` is a pure function of the wire payload and `raw` stays serializable.
Each source reads one or more *streams* (a listing such as `r/brand/new` or
`message/mentions`, one per subreddit so a bad one is named); the cursor keeps,
per stream, the newest creation time returned plus the fullnames returned within
a look-back window below it, so equal timestamps and late arrivals are neither
skipped nor repeated. A walk that stops early (page cap or a low rate-limit
budget) leaves a *gap* in the cursor that the next fetch closes first; if the
item it stopped at is removed meanwhile, the gap is walked again from the top.
An item that cannot be read (no fullname, no usable creation time) is skipped
and named in a problem line, once. praw's streams (`skip_existing`) are not
used: the persisted cursor is the truth.

prawcore's own retry loop is switched off by `WatcherRequestor`: it would
sleep inside the job thread and, worse, re-send a POST whose first attempt may
have been posted. Failures come back at once as typed errors and the Poller's
persisted back-off takes over.

The payload mapping and streams are in mapping.py, the listing walk and its gaps in
walk.py, praw's plumbing and error translation in client.py, the source table in
options.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

import praw
import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException

from connectors.base import (
    Connector,
    ConnectorError,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceUnavailable,
)
from connectors.reddit.client import (
    RequestMeter,
    TransportFailure,
    WatcherRequestor,
    fetch_error,
    make_reddit,
    rate_limited,
    reply_rejected,
)
from connectors.reddit.mapping import (
    PLATFORM,
    Stream,
    StreamState,
    build_streams,
    clean_text,
    comment_to_post,
    is_gone,
    is_own,
    permalink_url,
    same_text,
    submission_to_post,
    wanted,
)
from connectors.reddit.options import read_source
from connectors.reddit.walk import BudgetSpent, Walk, walk
from watcher.core.config import SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post, PostKind, parse_timestamp, utc_now

__all__ = [
    "RedditConnector",
    "RequestMeter",
    "WatcherRequestor",
    "build_streams",
    "comment_to_post",
    "is_gone",
    "make_reddit",
    "submission_to_post",
]

CURSOR_VERSION = 1


# --- the connector ----------------------------------------------------------------


class RedditConnector(Connector):
    """Reads a source's streams through one praw.Reddit; replies as the brand account."""

    name: ClassVar[str] = "reddit"

    def __init__(
        self,
        reddit: praw.Reddit,
        *,
        meter: RequestMeter,
        streams: tuple[Stream, ...],
        source: str = "reddit",
        brand_account: str | None = None,
        can_reply: bool = False,
        page_size: int = 100,
        max_pages: int = 5,
        min_remaining: int = 10,
        backfill_hours: int = 24,
        parent_context: bool = True,
        author_karma: bool = True,
        lookback_minutes: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
        http: requests.Session | None = None,
        request_timeout: float = 16.0,
    ) -> None:
        self.reddit = reddit
        self.http = http
        # seconds one request may wait (the requestor's timeout): the queue's send lease is sized from it
        self.request_timeout: float | None = request_timeout
        self.meter = meter
        self.streams = streams
        self.source = source
        self.brand_account = brand_account
        self.can_reply = can_reply
        self.page_size = max(1, min(100, page_size))
        self.max_pages = max(1, max_pages)
        self.min_remaining = min_remaining
        self.backfill_hours = backfill_hours
        self.parent_context = parent_context
        self.author_karma = author_karma
        self.lookback = lookback_minutes * 60.0
        self.clock = clock

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        access, settings = read_source(cfg, env)
        meter = RequestMeter()
        http = requests.Session()
        reddit = make_reddit(
            session=http,
            client_id=access.client_id,
            client_secret=access.client_secret,
            user_agent=access.user_agent,
            meter=meter,
            oauth_url=access.oauth_url,
            reddit_url=access.reddit_url,
            username=access.username,
            password=access.password,
            refresh_token=access.refresh_token,
            timeout=access.timeout,
        )
        options = {f.name: getattr(settings, f.name) for f in fields(settings)}  # shallow: streams stay Streams
        return cls(reddit, meter=meter, source=cfg.name, http=http, **options)

    def close(self) -> None:
        """Close the HTTP connections (at shutdown; the connector is not used after)."""
        if self.http is not None:
            self.http.close()

    # --- fetch ------------------------------------------------------------------
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """New items of every stream since `cursor`, oldest first, with context. Raises
        RateLimited, AuthFailed, SourceMisconfigured or SourceUnavailable; on any of
        them nothing of this fetch is returned and the stored cursor stays put."""
        start = self.meter.count
        states = dict((cursor.state.get("streams") or {}) if cursor else {})
        walked: list[tuple[Stream, dict[str, Any]]] = []
        problems: list[str] = []
        has_more = False
        try:
            for stream in self.streams:
                walk = self._walk(stream, StreamState.from_json(states.get(stream.key)), start)
                states[stream.key] = walk.state.to_json()
                walked.extend((stream, item) for item in walk.items)
                has_more = has_more or not walk.complete
                problems.extend(walk.problems)
        except BudgetSpent:
            has_more = True
        keep: list[tuple[Stream, dict[str, Any]]] = []
        names: set[str] = set()
        for stream, data in walked:  # one item can sit in two streams (a reply that also mentions the brand)
            if data["name"] not in names and wanted(stream, data):
                names.add(data["name"])
                keep.append((stream, data))
        parents = self._parents([d for _, d in keep])
        karma = self._karma([d for _, d in keep])
        posts = []
        for stream, data in keep:
            try:
                posts.append(self._to_post(stream, data, parents, karma))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                problems.append(f"{self.source}: {data.get('name', '?')} in {stream.path}: cannot map ({exc!r})")
        posts.sort(key=lambda p: (p.created_at, p.native_id))
        new_cursor = Cursor({"v": CURSOR_VERSION, "streams": states})
        return FetchResult(
            posts=tuple(posts),
            cursor=new_cursor,
            has_more=has_more,
            requests_made=self.meter.count - start,
            problems=tuple(problems),
        )

    def _spend(self, start: int) -> None:
        """Before a request: stop the fetch when the budget is at the reserve. With
        nothing done yet, say when to come back so the Poller waits without asking."""
        if not self.meter.low(self.min_remaining):
            return
        if self.meter.count == start:
            until = self.meter.reset_at or self.clock() + timedelta(seconds=60)
            raise RateLimited(
                f"Reddit rate limit almost spent ({self.meter.remaining:g} requests left); "
                f"waiting until the window resets at {until:%H:%M:%S} UTC",
                until=until,
                endpoint="oauth",
                source=self.source,
            )
        raise BudgetSpent()

    def _walk(self, stream: Stream, state: StreamState, start: int) -> Walk:
        return walk(
            stream,
            state,
            read_page=self._get,
            spend=lambda: self._spend(start),
            horizon=(self.clock() - timedelta(hours=self.backfill_hours)).timestamp(),
            source=self.source,
            page_size=self.page_size,
            max_pages=self.max_pages,
            lookback=self.lookback,
        )

    def _get(self, stream: Stream, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            data = self.reddit.request(method="GET", path=stream.path, params=dict(params))
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise self._fetch_error(exc, stream) from None
        body = data.get("data") if isinstance(data, dict) and data.get("kind") == "Listing" else None
        if not isinstance(body, dict) or not isinstance(body.get("children"), list):
            raise SourceUnavailable(
                f"{stream.path} did not return a listing; Reddit may be degraded, will retry", source=self.source
            )
        return data

    def _fetch_error(self, exc: Exception, stream: Stream | None, where: str = "") -> ConnectorError:
        return fetch_error(exc, stream, source=self.source, now=self.clock(), where=where)

    # --- enrichment (one request per 100 items, never one per post) ---------------
    def _parents(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Parent comments (body and author) by fullname: from the batch itself, the
        rest by /api/info in batches of 100."""
        found = {d["name"]: d for d in items if "body" in d}
        missing = sorted(
            {str(d.get("parent_id")) for d in items if str(d.get("parent_id") or "").startswith("t1_")} - set(found)
        )
        if not self.parent_context or not missing:
            return found
        for data in self._batched("api/info", "id", missing):
            for child in data.get("data", {}).get("children", []):
                if isinstance(child.get("data"), dict) and child["data"].get("name"):
                    found[child["data"]["name"]] = child["data"]
        return found

    def _karma(self, items: list[dict[str, Any]]) -> dict[str, int]:
        """Authors' total karma from /api/user_data_by_account_ids, 100 authors a request."""
        ids = sorted(
            {str(d["author_fullname"]) for d in items if str(d.get("author_fullname") or "").startswith("t2_")}
        )
        karma: dict[str, int] = {}
        if not self.author_karma or not ids:
            return karma
        for data in self._batched("api/user_data_by_account_ids", "ids", ids):
            for fullname, user in data.items():
                if not isinstance(user, dict):
                    continue
                try:
                    karma[fullname] = int(user.get("link_karma") or 0) + int(user.get("comment_karma") or 0)
                except (TypeError, ValueError, ArithmeticError):
                    continue  # an unreadable karma figure is context lost, not a post lost
        return karma

    def _batched(self, path: str, key: str, ids: list[str]) -> Iterator[dict[str, Any]]:
        """GET `path` for up to 100 ids a request. This is context that is nice to
        have: it stops quietly when the budget is low or Reddit fails, since the posts
        themselves are already in hand."""
        for i in range(0, len(ids), 100):
            if self.meter.low(self.min_remaining):
                return
            try:
                data = self.reddit.request(method="GET", path=path, params={key: ",".join(ids[i : i + 100])})
            except (prawcore.PrawcoreException, PRAWException):
                return
            if not isinstance(data, dict):
                return
            yield data

    def _to_post(
        self, stream: Stream, data: dict[str, Any], parents: Mapping[str, Mapping[str, Any]], karma: Mapping[str, int]
    ) -> Post:
        if "title" in data:
            return submission_to_post(
                data, source=self.source, kind=stream.kind, brand_account=self.brand_account, karma=karma
            )
        parent = parents.get(str(data.get("parent_id") or ""))
        kind = stream.kind
        if kind == PostKind.COMMENT and parent is not None and is_own(parent, self.brand_account):
            kind = PostKind.REPLY  # someone answered the brand in its own subreddit
        return comment_to_post(
            data,
            source=self.source,
            kind=kind,
            brand_account=self.brand_account,
            parent_text=clean_text(parent.get("body")) if parent is not None else None,
            karma=karma,
        )

    # --- reply --------------------------------------------------------------------
    def reply(self, post: Post, text: str) -> PostedReply:
        if not self.can_reply:
            raise ReplyRejected(
                f"source {self.source!r} reads Reddit without the brand account logged in; set username_env and "
                f"password_env (or refresh_token_env) to reply",
                source=self.source,
            )
        self._refuse_when_spent(post)
        target = self._target(post)
        try:
            created = target.reply(text)
        except RedditAPIException as exc:
            raise reply_rejected(exc, post, source=self.source) from None
        except prawcore.RequestException as exc:
            original = exc.original_exception
            what = original.what if isinstance(original, TransportFailure) else type(original).__name__
            raise ReplyOutcomeUnknown(
                f"the reply to {post.url or post.native_id} may or may not be posted ({what})", source=self.source
            ) from None
        except prawcore.TooManyRequests as exc:
            limited = rate_limited(exc.response, post.native_id, source=self.source, now=self.clock())
            raise ReplyRejected(f"{limited.message}; send again after that time", source=self.source) from None
        except prawcore.Forbidden:
            raise ReplyRejected(
                f"Reddit refused the reply to {post.url or post.native_id} (HTTP 403): the thread may be locked, "
                f"the subreddit private, or the brand account banned there; reply on Reddit or dismiss",
                source=self.source,
            ) from None
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise self._fetch_error(exc, None) from None
        if created is None:
            raise ReplyOutcomeUnknown(
                f"Reddit accepted the reply to {post.native_id} but did not return it (quarantined subreddit?)",
                source=self.source,
            )
        data = vars(created)
        return PostedReply(
            platform=PLATFORM,
            native_id=f"t1_{data['id']}",
            url=permalink_url(
                {**data, "subreddit": str(data.get("subreddit", "")), "link_id": data.get("link_id", "")}
            ),
            posted_at=parse_timestamp(float(data["created_utc"])) if data.get("created_utc") else self.clock(),
        )

    def _refuse_when_spent(self, post: Post) -> None:
        """With the window spent, prawcore would sleep until it resets (up to ten
        minutes) inside the caller's thread; say when to send instead."""
        if self.meter.low(0) and self.meter.reset_at is not None:
            raise ReplyRejected(
                f"Reddit's request budget is spent until {self.meter.reset_at:%H:%M:%S} UTC; "
                f"send the reply to {post.url or post.native_id} again after that",
                source=self.source,
            )

    def _target(self, post: Post) -> praw.models.Submission | praw.models.Comment:
        fullname = post.native_id
        if fullname.startswith("t3_"):
            return self.reddit.submission(id=fullname[3:])
        if fullname.startswith("t1_"):
            return self.reddit.comment(id=fullname[3:])
        raise ReplyRejected(
            f"post {post.key} is not a Reddit submission or comment (id {fullname!r}); reply on Reddit",
            source=self.source,
        )

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """Look at the target's direct replies for one by the brand account (made by us
        before a timeout, or natively on Reddit)."""
        if self.meter.low(0) and self.meter.reset_at is not None:
            raise RateLimited(
                f"Reddit's request budget is spent until {self.meter.reset_at:%H:%M:%S} UTC; "
                f"cannot look for the reply to {post.url or post.native_id} before then",
                until=self.meter.reset_at,
                endpoint="oauth",
                source=self.source,
            )
        brand = self._brand()
        if not brand:
            return None
        fullname = post.native_id
        try:
            if fullname.startswith("t3_"):
                answer = self.reddit.request(
                    method="GET", path=f"comments/{fullname[3:]}", params={"sort": "new", "limit": 100, "depth": 1}
                )
                children = answer[1]["data"]["children"] if isinstance(answer, list) and len(answer) > 1 else []
            elif fullname.startswith("t1_"):
                link = post.conversation_id or str(post.raw.get("link_id") or "")
                if not link.startswith("t3_"):
                    return None
                answer = self.reddit.request(
                    method="GET",
                    path=f"comments/{link[3:]}",
                    params={"comment": fullname[3:], "depth": 2, "limit": 100, "sort": "new"},
                )
                children = _replies_of(answer, fullname)
            else:
                return None
        except prawcore.NotFound:
            return None  # the target is gone, and with it any reply
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise self._fetch_error(exc, None, where=post.url or post.native_id) from None
        for child in children:
            data = child.get("data", {}) if child.get("kind") == "t1" else {}
            if str(data.get("author", "")).casefold() != brand.casefold():
                continue
            if text is not None and not same_text(str(data.get("body", "")), text):
                continue
            return PostedReply(
                platform=PLATFORM,
                native_id=str(data["name"]),
                url=permalink_url(data),
                posted_at=parse_timestamp(float(data["created_utc"])),
            )
        return None

    def _brand(self) -> str | None:
        if self.brand_account is None and self.can_reply:
            try:
                me = self.reddit.user.me()
            except (prawcore.PrawcoreException, PRAWException) as exc:
                raise self._fetch_error(exc, None) from None
            self.brand_account = str(me) if me is not None else None
        return self.brand_account


def _replies_of(answer: Any, fullname: str) -> list[dict[str, Any]]:
    """Direct replies of comment `fullname` in a /comments/{link}?comment= answer."""
    if not isinstance(answer, list) or len(answer) < 2:
        return []
    for child in answer[1]["data"]["children"]:
        data = child.get("data", {})
        if data.get("name") == fullname:
            replies = data.get("replies")
            return list(replies["data"]["children"]) if isinstance(replies, dict) else []
    return []


CONNECTOR = RedditConnector
