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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

import praw
import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException

from connectors.base import (
    AuthFailed,
    Connector,
    ConnectorError,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.reddit.client import RequestMeter, TransportFailure, WatcherRequestor, make_reddit
from connectors.reddit.mapping import (
    MAX_REPORTED,
    MODES,
    PLATFORM,
    Boundary,
    Stream,
    StreamState,
    advance,
    build_streams,
    clean_text,
    comment_to_post,
    is_gone,
    is_own,
    item_label,
    malformed,
    passing,
    permalink_url,
    same_text,
    submission_to_post,
    wanted,
)
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
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

DEFAULT_USER_AGENT = "python:social-care-watcher:0.1 (self-hosted)"
CURSOR_VERSION = 1


class _BudgetSpent(Exception):
    """Internal: stop walking, the rate-limit budget is at the reserve."""


@dataclass
class _Walk:
    items: list[dict[str, Any]]
    state: StreamState
    complete: bool
    problems: list[str]


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
        opts = SourceOptions(cfg, env)
        mode = opts.choice("mode", MODES, "subreddit")
        subreddits = tuple(
            s.strip().removeprefix("r/").removeprefix("/r/") for s in opts.get("subreddits", tuple[str, ...], ())
        )
        terms = opts.get("terms", tuple[str, ...], ())
        query = opts.get("query", str, "")
        include_submissions = opts.get("include_submissions", bool, True)
        include_comments = opts.get("include_comments", bool, mode == "subreddit")
        include_mentions = opts.get("include_mentions", bool, True)
        include_replies = opts.get("include_replies", bool, True)
        oauth_url = opts.get("oauth_url", str, "https://oauth.reddit.com")
        reddit_url = opts.get("reddit_url", str, "https://www.reddit.com")
        user_agent = opts.get("user_agent", str, DEFAULT_USER_AGENT)
        timeout = opts.get("timeout_seconds", float, 16.0)
        page_size = opts.get("page_size", int, 100)
        max_pages = opts.get("max_pages", int, 5)
        min_remaining = opts.get("min_remaining", int, 10)
        parent_context = opts.get("parent_context", bool, True)
        author_karma = opts.get("author_karma", bool, True)
        lookback = opts.get("lookback_minutes", float, 10.0)
        brand_account = opts.get("brand_account", str, "")
        client_id = opts.secret("client_id_env", "REDDIT_CLIENT_ID")
        client_secret = opts.secret("client_secret_env", "REDDIT_CLIENT_SECRET")
        refresh_token = opts.secret("refresh_token_env", "REDDIT_REFRESH_TOKEN", required=False)
        username = opts.secret("username_env", "REDDIT_USERNAME", required=False)
        password = opts.secret("password_env", "REDDIT_PASSWORD", required=False)
        logged_in = bool(refresh_token or (username and password))
        problems = _check_options(
            cfg,
            mode=mode,
            subreddits=subreddits,
            terms=terms,
            query=query,
            include_comments=include_comments,
            urls={"oauth_url": oauth_url, "reddit_url": reddit_url},
            logged_in=logged_in,
            password_missing=bool(username and not password and not refresh_token),
            user_agent=user_agent,
            limits={"page_size": (page_size, 1, 100), "max_pages": (max_pages, 1, 100),
                    "min_remaining": (min_remaining, 0, 1000), "timeout_seconds": (timeout, 0.1, 300),
                    "lookback_minutes": (lookback, 0, 24 * 60)},
        )  # fmt: skip
        opts.problems.extend(problems)
        opts.finish()  # one ConfigError listing every problem of the table
        meter = RequestMeter()
        http = requests.Session()
        reddit = make_reddit(
            session=http,
            client_id=client_id,
            client_secret=client_secret,
            user_agent=user_agent,
            meter=meter,
            oauth_url=oauth_url,
            reddit_url=reddit_url,
            username=username,
            password=password,
            refresh_token=refresh_token,
            timeout=timeout,
        )
        streams = build_streams(
            mode=mode,
            subreddits=subreddits,
            terms=terms,
            query=query,
            include_submissions=include_submissions,
            include_comments=include_comments,
            include_mentions=include_mentions,
            include_replies=include_replies,
        )
        return cls(
            reddit,
            meter=meter,
            streams=streams,
            source=cfg.name,
            brand_account=brand_account or username or None,
            can_reply=logged_in,
            page_size=page_size,
            max_pages=max_pages,
            min_remaining=min_remaining,
            backfill_hours=cfg.backfill_hours,
            parent_context=parent_context,
            author_karma=author_karma,
            lookback_minutes=lookback,
            http=http,
            request_timeout=timeout,
        )

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
        except _BudgetSpent:
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
        raise _BudgetSpent()

    def _walk(self, stream: Stream, state: StreamState, start: int) -> _Walk:
        """Newest -> oldest through the listing until the floor (the previous top, or the
        backfill horizon on a first run) is reached, the listing ends, the page cap
        hits or the budget runs out; the last two leave a gap for the next fetch.
        A gap whose resume point has vanished (removed by a moderator, or fallen out of
        Reddit's ~1000-item listing) is walked again from the top, once, skipping what
        the gap walk had already passed; when the listing ends before that walk gets below
        where the gap walk stood, what lay below may be gone, and a problem line says so."""
        if state.gap_after is not None and state.gap_floor is not None:
            floor, after, resuming = state.gap_floor, state.gap_after, True
        else:
            horizon = (self.clock() - timedelta(hours=self.backfill_hours)).timestamp()
            floor, after, resuming = state.top or Boundary(horizon), None, False
        passed = state.gap_passed if resuming else None
        rewalked = state.gap_rewalked if resuming else False
        stood = state.gap_stood if resuming else None
        items: list[dict[str, Any]] = []
        problems: list[str] = []
        reported = list(state.reported)
        reached = ended = cut_short = False
        met_stored = False  # the walk came down to an item already returned: the listing joins what we have
        pages = 0
        while pages < self.max_pages and not (reached or ended):
            try:
                self._spend(start)
            except _BudgetSpent:
                if not items and not resuming:
                    raise
                break
            params: dict[str, Any] = {**stream.params, "limit": self.page_size}
            if after:
                params["after"] = after
            listing = self._get(stream, params)
            children = [c for c in listing["data"]["children"] if isinstance(c, dict) and c.get("kind") in ("t1", "t3")]
            if resuming and after == state.gap_after and not children:
                if rewalked:  # walked again from the top already: never again; nothing after it is the end
                    ended = cut_short = True
                    continue
                problems.append(
                    f"{self.source}: {stream.path}: Reddit listed nothing after {state.gap_after}, where the "
                    f"previous fetch stopped (the item was removed, or fell out of Reddit's listing); walked the "
                    f"listing again from the newest item down to where the unfinished walk began, skipping what it "
                    f"had already read"
                )
                after = None  # this empty answer does not count against the page cap
                rewalked, stood = True, passed
                continue
            pages += 1
            for child in children:
                data = child["data"] if isinstance(child.get("data"), dict) else {}
                wrong = malformed(data, child["kind"])
                if wrong:
                    label = item_label(data, child["kind"])
                    if not label or label not in reported:
                        problems.append(
                            f"{self.source}: {stream.path}: skipped {label or 'an item without a name or id'}: "
                            f"{wrong}; the rest of the listing was read"
                        )
                        reported.extend([label] if label else [])
                    continue
                if floor.below(data):
                    reached = True
                    break
                stored = floor.covers(data) or (state.top is not None and data["name"] in state.top.seen)
                met_stored = met_stored or stored
                already = stored or (passed is not None and passed.covers(data))
                passed = passing(passed, data)
                if not already:
                    items.append(data)
            after = listing["data"].get("after")
            ended = not after or not children
        top = advance(state.top, items, lookback=self.lookback)
        reported = reported[-MAX_REPORTED:]
        if reached or ended:
            if ended and not reached and stood is not None and passed == stood:
                problems.append(
                    f"{self.source}: {stream.path}: the listing ended before the walk started again from the newest "
                    f"item got back down to where the unfinished walk had stopped (Reddit lists about 1000 items), so "
                    f"items created before {datetime.fromtimestamp(stood.created, UTC):%Y-%m-%d %H:%M} UTC that it had "
                    f"not read yet may be missing; poll this source more often"
                )
            elif cut_short:
                problems.append(
                    f"{self.source}: {stream.path}: Reddit listed nothing after {state.gap_after}, where the previous "
                    f"fetch stopped, and this unfinished walk was already walked again from the newest item once, so "
                    f"it ends here; if {state.gap_after} was removed, older items not read yet may be missing"
                )
            elif ended and not reached and not met_stored and floor.seen and items:
                problems.append(
                    f"{self.source}: {stream.path}: the listing ended before reaching the last stored item "
                    f"(Reddit lists about 1000 items), so older new items may be missing; poll this source more often"
                )
            return _Walk(items, StreamState(top=top, reported=tuple(reported)), True, problems)
        last = items[-1]["name"] if items else (after or state.gap_after)
        gap = StreamState(
            top=top,
            gap_after=last,
            gap_floor=floor,
            gap_passed=passed,
            gap_rewalked=rewalked,
            gap_stood=stood,
            reported=tuple(reported),
        )
        return _Walk(items, gap, False, problems)

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
        """A praw/prawcore error -> the typed error the Poller and queue act on."""
        if not where:
            where = f"r/{stream.subreddit}" if stream and stream.subreddit else (stream.path if stream else "Reddit")
        if isinstance(exc, prawcore.TooManyRequests):
            return self._rate_limited(exc.response, where)
        if isinstance(exc, prawcore.OAuthException):
            return AuthFailed(
                f"Reddit refused the account login ({exc.error}): check the username/password or refresh "
                f"token variables of this source, and that the account is a developer of the app",
                source=self.source,
            )
        if isinstance(exc, prawcore.InsufficientScope):
            return AuthFailed(
                f"the Reddit token lacks a scope needed for {where}; authorize the app with read, "
                f"privatemessages, submit and identity scopes",
                source=self.source,
            )
        if isinstance(exc, prawcore.InvalidToken) or (
            isinstance(exc, prawcore.ResponseException) and exc.response.status_code == 401
        ):
            return AuthFailed(
                "Reddit refused the app credentials (HTTP 401): check the client id and secret variables "
                "of this source against https://www.reddit.com/prefs/apps",
                source=self.source,
            )
        if isinstance(exc, prawcore.Redirect):
            return SourceMisconfigured(
                f"{where} does not exist (Reddit redirected to search); fix the name in subreddits",
                source=self.source,
            )
        if isinstance(exc, prawcore.Forbidden | prawcore.NotFound | prawcore.UnavailableForLegalReasons):
            reason = _reason(exc.response)
            if stream is None or not stream.subreddit and not stream.path.startswith("message/"):
                return SourceUnavailable(
                    f"Reddit refused to show {where} (HTTP {exc.response.status_code}); will retry",
                    source=self.source,
                )
            if stream.path.startswith("message/"):
                return AuthFailed(
                    f"Reddit refused {stream.path} (HTTP {exc.response.status_code}): inbox mode needs the brand "
                    f"account logged in with the privatemessages scope",
                    source=self.source,
                )
            what = {
                "private": "is private",
                "banned": "is banned",
                "quarantined": "is quarantined",
                "gold_only": "is restricted",
            }.get(reason, "is not readable" if isinstance(exc, prawcore.Forbidden) else "was not found")
            return SourceMisconfigured(
                f"{where} {what} (HTTP {exc.response.status_code}); remove it from subreddits, or ask its "
                f"moderators to approve the brand account and log in as it",
                source=self.source,
            )
        if isinstance(exc, prawcore.RequestException):
            original = exc.original_exception
            what = original.what if isinstance(original, TransportFailure) else type(original).__name__
            return SourceUnavailable(f"Reddit is unavailable for {where}: {what}; will retry", source=self.source)
        if isinstance(exc, prawcore.ResponseException):
            return SourceUnavailable(
                f"Reddit answered HTTP {exc.response.status_code} for {where}; will retry", source=self.source
            )
        return SourceUnavailable(
            f"Reddit request for {where} failed ({type(exc).__name__}); will retry", source=self.source
        )

    def _rate_limited(self, response: requests.Response, where: str) -> RateLimited:
        headers = response.headers
        wait = 60.0
        for key in ("retry-after", "x-ratelimit-reset"):
            try:
                wait = float(headers[key])
                break
            except (KeyError, ValueError):
                continue
        until = self.clock() + timedelta(seconds=max(1.0, wait))
        return RateLimited(
            f"Reddit said too many requests (HTTP 429) for {where}; waiting until {until:%H:%M:%S} UTC",
            until=until,
            endpoint="oauth",
            source=self.source,
        )

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
            raise self._reply_rejected(exc, post) from None
        except prawcore.RequestException as exc:
            original = exc.original_exception
            what = original.what if isinstance(original, TransportFailure) else type(original).__name__
            raise ReplyOutcomeUnknown(
                f"the reply to {post.url or post.native_id} may or may not be posted ({what})", source=self.source
            ) from None
        except prawcore.TooManyRequests as exc:
            limited = self._rate_limited(exc.response, post.native_id)
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

    def _reply_rejected(self, exc: RedditAPIException, post: Post) -> ReplyRejected:
        item = exc.items[0] if exc.items else None
        error_type = item.error_type if item else "UNKNOWN"
        message = item.message if item else str(exc)
        where = post.url or post.native_id
        reasons = {
            "RATELIMIT": f"Reddit is rate-limiting comments from the brand account ({message}); send again later",
            "THREAD_LOCKED": f"{where} is locked: nobody can comment; reply by private message or dismiss",
            "TOO_OLD": f"{where} is archived (too old to reply to); reply by private message or dismiss",
            "DELETED_COMMENT": f"{where} was deleted; there is nothing to reply to, dismiss the item",
            "DELETED_LINK": f"the post {where} was deleted; there is nothing to reply to, dismiss the item",
            "INVALID_THING_ID": f"{where} no longer exists on Reddit; dismiss the item",
            "USER_BLOCKED": f"the author of {where} blocked the brand account; reply is not possible",
            "SOMETHING_IS_BROKEN": f"Reddit could not post the reply to {where} ({message}); try again",
        }
        text = reasons.get(error_type, f"Reddit refused the reply to {where}: {error_type}: {message}")
        return ReplyRejected(text, source=self.source)

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


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason") or "") if isinstance(body, dict) else ""


def _check_options(
    cfg: SourceConfig,
    *,
    mode: str,
    subreddits: tuple[str, ...],
    terms: tuple[str, ...],
    query: str,
    include_comments: bool,
    urls: Mapping[str, str],
    logged_in: bool,
    password_missing: bool,
    limits: Mapping[str, tuple[float, float, float]],
    user_agent: str,
) -> list[ConfigProblem]:
    """Problems no single key shows: options that do not fit the mode or each other."""
    where = f"sources.{cfg.name}"
    problems = []
    if len(user_agent.strip()) < 7:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.user_agent",
                'too short; describe the app, like "python:lumo-care:1.0 (by /u/LumoSupport)"',
            )
        )
    for name, (number, low, high) in limits.items():
        if number is not None and not low <= number <= high:
            problems.append(ConfigProblem(cfg.file, f"{where}.{name}", f"must be between {low:g} and {high:g}"))
    if mode == "inbox" and not logged_in:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.mode",
                "inbox mode reads the brand account's mentions and replies: export the account's "
                "username and password (username_env/password_env) or a refresh token (refresh_token_env)",
            )
        )
    if password_missing:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.password_env",
                "the username is set but the password variable is empty; export both or neither",
            )
        )
    for key, value in urls.items():
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(
                ConfigProblem(cfg.file, f"{where}.{key}", "must be an https:// URL (plain http only for 127.0.0.1)")
            )
    name_ok = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
    for sub in subreddits:
        if not name_ok.match(sub):
            problems.append(
                ConfigProblem(cfg.file, f"{where}.subreddits", f'{sub!r} is not a subreddit name like "LumoBank"')
            )
    if mode == "subreddit" and not subreddits:
        problems.append(
            ConfigProblem(cfg.file, f"{where}.subreddits", 'subreddit mode needs at least one, like ["LumoBank"]')
        )
    if mode == "search" and not (terms or query):
        problems.append(
            ConfigProblem(cfg.file, f"{where}.terms", 'search mode needs terms like ["Lumo", "Lumo Bank"] or a query')
        )
    if mode == "search" and include_comments and not subreddits:
        problems.append(
            ConfigProblem(
                cfg.file,
                f"{where}.include_comments",
                "Reddit search does not cover comments; list subreddits whose comments to scan for the terms",
            )
        )
    if mode == "search" and include_comments and not terms:
        problems.append(
            ConfigProblem(cfg.file, f"{where}.terms", "scanning comments needs terms to match, not only a query")
        )
    return problems


CONNECTOR = RedditConnector
