"""X (Twitter) connector on tweepy's v2 `Client`: mentions, searches and the replies
under the brand's own posts, fetched incrementally within the API budget, and the
public reply.

One source reads one endpoint:

- mode "mentions": `GET /2/users/:id/mentions` of the brand account;
- mode "search": `GET /2/tweets/search/recent` with the configured query (retweets
  and the brand's own posts excluded unless told otherwise);
- mode "conversations": recent search for the brand's own posts and the replies in
  the conversations they started (`conversation_id:`), so answers under the brand's
  posts are seen even when they do not mention it.

Results arrive newest first. A fetch pages back with `next_token` until it meets
the cursor's `since_id` (or the backfill start on a first run), at most `max_pages`
requests. When it stops early (page limit, `x-rate-limit-remaining: 0`, an error
after some pages) the unfetched range is kept in the cursor as a gap and filled by
the next fetches (`since_id`/`until_id`), so nothing between two polls is skipped.
While gaps wait, the newest posts get at most `max_pages - 1` requests and the gaps
the rest, so gaps are read whatever `max_pages` is; a gap whose request fails is kept
(a problem line) and the fetch reads the newest posts. A range recent search can no
longer reach (older than 7 days) is named in a problem line, never dropped silently:
for the newest posts that is what came after their last read (`checked_at` in the
cursor), not after the newest post seen, which a quiet search may have seen days ago.

Rate limits: a 429, or a page that leaves 0 requests, blocks that endpoint until
`x-rate-limit-reset` for every source sharing the app's credentials in this
process; the next fetch raises `RateLimited` without a request and the poller
persists the window. tweepy's `wait_on_rate_limit` is never used (it sleeps in the
job thread).

tweepy hard-codes https://api.twitter.com; `BaseUrlSession` rewrites it to
`api_base_url` (X's public host by default, or a gateway, proxy or fake server).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Self

import requests
import tweepy

from connectors.base import (
    BudgetRow,
    Connector,
    ConnectorError,
    FetchResult,
    PostedReply,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
)
from connectors.x import budget
from connectors.x.budget import MODE_ENDPOINT, NATIVE_CHECK_PAGES, X_API_BASE_URL, source_limits
from connectors.x.client import (
    DEFAULT_RESET,
    SHARED_RATE_WINDOWS,
    TWEEPY_HOST,
    BaseUrlSession,
    RateWindows,
    build_client,
    read_error,
    reply_error,
    reset_time,
    response_json,
)
from connectors.x.cursor import (
    SEARCH_WINDOW,
    Run,
    Span,
    SpanOutcome,
    TopRead,
    XState,
    lost_problem,
    merge_gaps,
    newer,
    older,
)
from connectors.x.mapping import (
    Page,
    TweetError,
    header_int,
    parse_page,
    referenced,
    reset_at,
    snowflake_time,
    tweet_to_post,
    tweet_url,
)
from connectors.x.text import MAX_WEIGHTED_LENGTH, comparable_reply_text, reply_length_problem, weighted_length
from watcher.core.config import ConfigProblem, SourceConfig, SourceOptions
from watcher.core.cursor import Cursor
from watcher.core.post import Post, parse_timestamp, utc_now

__all__ = ["X_API_BASE_URL", "BaseUrlSession", "RateWindows", "XConnector", "build_client"]

log = logging.getLogger(__name__)

MODES = ("mentions", "search", "conversations")
# what finding the brand's own replies reads of each post
OWN_REPLY_FIELDS = ("created_at", "referenced_tweets", "conversation_id", "author_id")

TWEET_FIELDS = (
    "author_id",
    "created_at",
    "lang",
    "public_metrics",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
)
USER_FIELDS = ("username", "name", "public_metrics", "verified", "verified_type", "protected")
EXPANSIONS = ("author_id", "referenced_tweets.id", "referenced_tweets.id.author_id")
# recent search reaches back 7 days; stay a little inside so the request is never refused


class XConnector(Connector):
    """One X source. The tweepy Client is injected (see `build_client`)."""

    name: ClassVar[str] = "x"
    max_reply_length = MAX_WEIGHTED_LENGTH  # as X weighs it (`reply_length`)

    def __init__(
        self,
        client: tweepy.Client,
        *,
        source: str = "x",
        mode: str = "mentions",
        user_id: str = "",
        username: str = "",
        query: str = "",
        exclude_retweets: bool = True,
        exclude_own: bool = True,
        max_results: int = 100,
        max_pages: int = 5,
        backfill_hours: int = 24,
        conversation_days: int = 3,
        max_query_length: int = 512,
        credentials_hint: str = "the variable named in bearer_token_env",
        reply_credentials_hint: str = "the variables named in consumer_key_env, consumer_secret_env, "
        "access_token_env and access_token_secret_env",
        rate_windows: RateWindows = SHARED_RATE_WINDOWS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.client = client
        self.source = source
        self.mode = mode
        self.user_id = user_id
        self.username = username
        self.query = query
        self.exclude_retweets = exclude_retweets
        self.exclude_own = exclude_own
        self.max_results = max_results
        self.max_pages = max(1, max_pages)
        self.backfill = timedelta(hours=backfill_hours)
        self.conversation_window = timedelta(days=conversation_days)
        self.max_query_length = max_query_length
        self.credentials_hint = credentials_hint
        self.reply_credentials_hint = reply_credentials_hint
        self.rate_windows = rate_windows
        self.clock = clock
        self.endpoint = MODE_ENDPOINT[mode]
        # seconds one request may wait for X (build_client's timeout): the queue's send lease is sized from it
        self.request_timeout: float | None = getattr(getattr(client, "session", None), "timeout", None)
        base = getattr(getattr(client, "session", None), "base_url", TWEEPY_HOST)
        app = hashlib.sha256(str(getattr(client, "bearer_token", "") or "").encode()).hexdigest()[:12]
        self._window_prefix = f"{base}|{app}|"

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        opts = SourceOptions(cfg, env)
        mode = opts.choice("mode", MODES, "mentions")
        user_id = opts.get("user_id", str, "")
        username = opts.get("username", str, "").lstrip("@")
        query = opts.get("query", str, "")
        api_base_url = opts.get("api_base_url", str, X_API_BASE_URL)
        bearer = opts.secret("bearer_token_env", "X_BEARER_TOKEN")
        reply_keys = ("consumer_key_env", "consumer_secret_env", "access_token_env", "access_token_secret_env")
        defaults = ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
        reply_values = [opts.secret(k, d, required=False) for k, d in zip(reply_keys, defaults, strict=True)]
        reply_vars = [str(cfg.options.get(k, d)) for k, d in zip(reply_keys, defaults, strict=True)]
        exclude_retweets = opts.get("exclude_retweets", bool, True)
        exclude_own = opts.get("exclude_own", bool, True)
        max_results = opts.get("max_results", int, 100)
        max_pages = opts.get("max_pages", int, 5)
        conversation_days = opts.get("conversation_days", int, 3)
        max_query_length = opts.get("max_query_length", int, 512)
        timeout = opts.get("timeout_seconds", float, 20.0)
        opts.get("tier", str, "basic")
        opts.get("rate_limits", dict, {})
        problems = opts.problems

        def problem(key: str, reason: str) -> None:
            problems.append(ConfigProblem(cfg.file, f"sources.{cfg.name}.{key}", reason))

        if mode in ("mentions", "conversations") and not user_id:
            problem("user_id", f"required for mode {mode!r}: the brand account's numeric X user id")
        if user_id and not user_id.isdigit():
            problem("user_id", f"{user_id!r} is not a numeric X user id (the username goes in username)")
        if mode == "search" and not query.strip():
            problem("query", 'required for mode "search": an X search query like "acme OR @acme"')
        if not 10 <= max_results <= 100:
            problem("max_results", "must be between 10 and 100")
        if not 1 <= conversation_days <= 7:
            problem("conversation_days", "must be between 1 and 7 (recent search covers 7 days)")
        if not 1 <= max_pages <= 100:
            problem("max_pages", "must be between 1 and 100")
        if not 0.1 <= timeout <= 300:
            problem("timeout_seconds", "must be between 0.1 and 300 (seconds to wait for X's answer)")
        if max_query_length < 256:
            problem("max_query_length", "must be at least 256 (X's smallest query limit is 512)")
        if not api_base_url.startswith(("https://", "http://")):
            problem("api_base_url", f"{api_base_url!r} is not an http(s) URL like {X_API_BASE_URL}")
        if any(reply_values) and not all(reply_values):
            missing = [var for var, value in zip(reply_vars, reply_values, strict=True) if not value]
            problem("access_token_env", f"replies need all four user-context variables; not set: {', '.join(missing)}")
        if all(reply_values) and not user_id:
            problem("user_id", "required to reply: it is how a retry finds a reply already posted")
        try:
            source_limits(cfg)
        except ValueError as exc:
            problem("rate_limits" if str(exc).startswith("rate_limits") else "tier", str(exc))
        opts.finish()  # raises ConfigError with every problem above
        client = build_client(
            bearer_token=bearer,
            api_base_url=api_base_url,
            timeout=timeout,
            consumer_key=reply_values[0],
            consumer_secret=reply_values[1],
            access_token=reply_values[2],
            access_token_secret=reply_values[3],
        )
        bearer_var = str(cfg.options.get("bearer_token_env", "X_BEARER_TOKEN"))
        return cls(
            client,
            source=cfg.name,
            mode=mode,
            user_id=user_id,
            username=username,
            query=query,
            exclude_retweets=exclude_retweets,
            exclude_own=exclude_own,
            max_results=max_results,
            max_pages=max_pages,
            backfill_hours=cfg.backfill_hours,
            conversation_days=conversation_days,
            max_query_length=max_query_length,
            credentials_hint=f"environment variable {bearer_var} (bearer_token_env)",
            reply_credentials_hint="environment variables " + ", ".join(reply_vars),
        )

    def reply_length(self, text: str) -> int:
        """X's weighted length: links count 23, wide characters and emoji 2."""
        return weighted_length(text)

    @classmethod
    def plan_budget(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[BudgetRow]:
        """Per endpoint, what the X sources spend against their tier (see budget.py)."""
        return [
            BudgetRow(line.describe(), line.ok, line.sources, "" if line.ok else line.fix())
            for line in budget.plan_budget(sources, native_check_minutes=native_check_minutes)
        ]

    @classmethod
    def budget_problems(cls, sources: Sequence[SourceConfig], *, native_check_minutes: int = 0) -> list[ConfigProblem]:
        return budget.budget_problems(sources, native_check_minutes=native_check_minutes)

    @property
    def reply_scope(self) -> tuple[str, str]:
        """The brand timeline `find_own_replies` reads: the app's credentials at this base
        URL (as the rate windows key them) and the brand's user_id. Sources with equal
        scopes see the same replies, so one timeline read answers for all of them."""
        return (self._window_prefix, self.user_id)

    # --- fetch ---------------------------------------------------------------

    def fetch(self, cursor: Cursor | None) -> FetchResult:
        now = self.clock()
        self._check_window(self.endpoint, now)
        state = XState.from_cursor(cursor) or XState(top=Span(start_time=now - self.backfill))
        conversations = self._live_conversations(state.conversations, now)
        query = self._search_query(conversations) if self.endpoint == "search_recent" else ""
        run = Run()
        # the newest posts come first, but a waiting gap always keeps one request, so
        # gaps are read whatever max_pages is (with 1, the top waits until they are,
        # unless the gap's request fails: then the fetch reads the top instead)
        top_limit = self.max_pages - 1 if state.gaps else self.max_pages
        top = TopRead(span=state.top, gap=None, checked_at=state.checked_at)
        if top_limit > 0:
            top = self._read_top(state, query, run, now, limit=top_limit)
        gaps, gap_failed = self._read_gaps(state.gaps, query, run, now)
        if top_limit == 0 and gap_failed:
            top = self._read_top(state, query, run, now, limit=self.max_pages)
        posts, problems = self._posts(run)
        all_gaps = [top.gap, *gaps] if top.gap is not None else gaps
        new_state = XState(
            top=top.span, gaps=merge_gaps(all_gaps), conversations=conversations, checked_at=top.checked_at
        )
        if self.mode == "conversations":
            new_state = self._track_conversations(new_state, posts, now)
        unread = bool(new_state.gaps) or (top_limit == 0 and not gap_failed)
        return FetchResult(
            posts=tuple(posts),
            cursor=new_state.to_cursor(),
            # another fetch now only helps when something is left and this one moved on without
            # a failure (or it costs no request: the poller then learns the rate-limit window)
            has_more=unread and ((new_state.moved_on(state) and not run.failed) or run.spent),
            requests_made=run.requests,
            problems=tuple(f"{self.source}: {p}" for p in [*run.problems, *lost_problem(run.lost), *problems]),
        )

    def _read_top(self, state: XState, query: str, run: Run, now: datetime, *, limit: int) -> TopRead:
        """Read the newest posts (at most `limit` requests of the fetch); the part left
        unread becomes a gap. Recent search notes when this read happened."""
        top = self._top_within_reach(state, now, run)
        outcome = self._read_span(top, query, run, limit=limit)
        checked_at = now if self.endpoint == "search_recent" else None
        return TopRead(span=self._after_top(top, outcome), gap=outcome.gap, checked_at=checked_at)

    def _read_gaps(self, waiting: Sequence[Span], query: str, run: Run, now: datetime) -> tuple[list[Span], bool]:
        """Read the waiting gaps, oldest last, with what the fetch has left; return the
        gaps still to read and whether a gap's first request failed. That failure is a
        problem line and the gap is kept, so a gap X keeps refusing never blocks the
        newest posts (with max_pages = 1 the gap's request is the fetch's first)."""
        gaps: list[Span] = []
        failed = False
        for gap in waiting:
            if failed or run.stopped or run.requests >= self.max_pages:
                gaps.append(gap)
                continue
            reachable = self._gap_within_reach(gap, now, run)
            if reachable is None:
                continue
            try:
                outcome = self._read_span(reachable, query, run, limit=self.max_pages)
            except RateLimited:
                raise  # the whole endpoint waits: the poller keeps the window
            except ConnectorError as exc:  # only the fetch's first request raises
                failed = run.failed = True
                run.problems.append(
                    f"could not read the older posts still to read (before post {gap.until_id}): {exc.message}; "
                    "they are asked for again next poll and the newest posts were read meanwhile"
                )
                gaps.append(gap)
                continue
            gaps += [] if outcome.gap is None else [outcome.gap]
        return gaps, failed

    def _after_top(self, old: Span, outcome: SpanOutcome) -> Span:
        newest = newer(old.since_id, outcome.newest)
        if newest is None:
            return old  # nothing seen yet: keep the backfill start (or the search window's edge)
        return Span(since_id=newest)

    def _read_span(self, span: Span, query: str, run: Run, *, limit: int) -> SpanOutcome:
        """Page one span newest -> oldest until the fetch has made `limit` requests;
        return the part left unread as a gap."""
        newest: str | None = None
        oldest: str | None = None
        token: str | None = None
        while True:
            if run.requests >= limit:
                break
            try:
                page = self._request(span, query, token)
            except ConnectorError as exc:
                if run.requests == 0:
                    raise
                run.stopped = run.failed = True
                run.problems.append(f"stopped after {run.requests} requests: {exc.message}; the rest is read next poll")
                break
            run.add(page)
            newest = newer(newest, page.newest_id)
            oldest = older(oldest, page.oldest_id)
            token = page.next_token
            if page.remaining == 0:  # _call has blocked the endpoint until the reset
                run.stopped = run.spent = True
            if token is None:
                return SpanOutcome(newest=newest, gap=None)
            if run.stopped:
                break
        until = oldest or span.until_id
        return SpanOutcome(newest=newest, gap=replace(span, until_id=until))

    def _top_within_reach(self, state: XState, now: datetime, run: Run) -> Span:
        """Recent search refuses ids and times older than 7 days: start the top at the
        edge of the window when it begins before it. Everything up to the last read of
        the top (`checked_at`) was read, so only what came after it and is now beyond the
        edge is noted in `run.lost`; a cursor without checked_at (written before it was
        kept) names nothing rather than guess."""
        if self.endpoint != "search_recent":
            return state.top
        edge = now - SEARCH_WINDOW
        if state.checked_at is not None and state.checked_at < edge:
            run.lost.append((state.checked_at, edge))
        top = state.top
        start = top.begins()
        return Span(start_time=edge) if start is None or start < edge else top

    def _gap_within_reach(self, span: Span, now: datetime, run: Run) -> Span | None:
        """A gap as far as recent search still reaches it (None when all of it is older
        than 7 days); the unread part cut off is noted in `run.lost`."""
        if self.endpoint != "search_recent":
            return span
        edge = now - SEARCH_WINDOW
        start = span.begins()
        if span.until_id is not None and snowflake_time(span.until_id) <= edge:
            run.lost.append((start, snowflake_time(span.until_id)))
            return None
        if start is None or start < edge:
            run.lost.append((start, edge))
            return Span(start_time=edge, until_id=span.until_id)
        return span

    def _request(self, span: Span, query: str, token: str | None) -> Page:
        params: dict[str, Any] = {
            "max_results": self.max_results,
            "tweet_fields": list(TWEET_FIELDS),
            "user_fields": list(USER_FIELDS),
            "expansions": list(EXPANSIONS),
            "since_id": span.since_id,
            "until_id": span.until_id,
            "start_time": span.start_time if span.since_id is None else None,
        }
        if self.endpoint == "search_recent":
            call = partial(self.client.search_recent_tweets, query, next_token=token, **params)
        else:
            call = partial(self.client.get_users_mentions, self.user_id, pagination_token=token, **params)
        response = self._call(self.endpoint, call)
        body = response_json(response)
        page = parse_page(body, response.headers)
        if not page.tweets and page.errors and "meta" not in body:
            detail = "; ".join(str(e.get("detail") or e.get("title") or e) for e in page.errors)
            raise SourceMisconfigured(
                f"X answered with errors only: {detail}; check user_id and query", source=self.source
            )
        return page

    def _call(self, endpoint: str, call: Callable[[], Any]) -> requests.Response:
        """Run one tweepy call; turn tweepy and requests failures into our typed errors.
        Nothing is sent to an endpoint inside its rate-limit window, whoever asks
        (polling, or looking up the brand's own replies)."""
        self._check_window(endpoint, self.clock())
        try:
            response = call()
        except tweepy.TooManyRequests as exc:
            until = reset_time(exc, self.clock())
            self._block(endpoint, until)
            raise RateLimited(
                f"X rate limit reached for {endpoint}; no request to it before {until:%H:%M:%S} UTC",
                until=until,
                endpoint=endpoint,
                source=self.source,
            ) from None
        except (tweepy.HTTPException, requests.RequestException) as exc:
            raise read_error(exc, endpoint, source=self.source, credentials_hint=self.credentials_hint) from None
        if header_int(response.headers, "x-rate-limit-remaining") == 0:
            # the allowance is spent: nothing more is sent to this endpoint before the reset
            self._block(endpoint, reset_at(response.headers) or self.clock() + DEFAULT_RESET)
        return response

    def _window_key(self, endpoint: str) -> str:
        return self._window_prefix + endpoint

    def _block(self, endpoint: str, until: datetime) -> None:
        self.rate_windows.block(self._window_key(endpoint), until)

    def _check_window(self, endpoint: str, now: datetime) -> None:
        until = self.rate_windows.blocked_until(self._window_key(endpoint), now)
        if until is not None:
            raise RateLimited(
                f"X rate limit for {endpoint} is used up; no request before {until:%H:%M:%S} UTC",
                until=until,
                endpoint=endpoint,
                source=self.source,
            )

    def _posts(self, run: Run) -> tuple[list[Post], list[str]]:
        posts = []
        problems = []
        for tweet_id in sorted(run.tweets, key=int):
            try:
                posts.append(
                    tweet_to_post(
                        run.tweets[tweet_id], run.users, run.included, source=self.source, brand_user_id=self.user_id
                    )
                )
            except TweetError as exc:
                problems.append(f"tweet {tweet_id}: {exc}")
        return posts, problems

    # --- queries -------------------------------------------------------------

    def _search_query(self, conversations: Sequence[str]) -> str:
        suffix = " -is:retweet" if self.exclude_retweets else ""
        if self.mode == "search":
            own = f" -from:{self.user_id}" if self.exclude_own and self.user_id else ""
            return f"({self.query}){suffix}{own}"
        terms = [f"from:{self.user_id}"]
        budget = self.max_query_length - len(suffix) - 2
        dropped = 0
        for conversation in sorted(conversations, key=int, reverse=True):
            term = f"conversation_id:{conversation}"
            if len(" OR ".join([*terms, term])) > budget:
                dropped += 1
                continue
            terms.append(term)
        if dropped:
            log.warning(
                "source %s: watching the %d newest conversations; %d older ones do not fit in max_query_length=%d "
                "(raise it if your tier allows longer queries, or lower conversation_days)",
                self.source,
                len(terms) - 1,
                dropped,
                self.max_query_length,
            )
        return f"({' OR '.join(terms)}){suffix}"

    def _live_conversations(self, conversations: Iterable[str], now: datetime) -> tuple[str, ...]:
        edge = now - self.conversation_window
        return tuple(c for c in conversations if snowflake_time(c) >= edge)

    def _track_conversations(self, state: XState, posts: Sequence[Post], now: datetime) -> XState:
        """Start watching conversations the brand's new posts open. Replies to them
        newer than the old cursor were not asked for yet, so the cursor steps back to
        the oldest new conversation (re-read posts are dropped as known)."""
        known = set(state.conversations)
        fresh = [
            p.native_id
            for p in posts
            if p.is_own and p.parent_id is None and (p.conversation_id in (None, p.native_id))
            if p.native_id not in known
        ]
        if not fresh:
            return state
        conversations = self._live_conversations([*state.conversations, *fresh], now)
        oldest_fresh = min(fresh, key=int)
        top = state.top
        checked_at = state.checked_at
        if top.since_id is not None:
            top = Span(since_id=older(top.since_id, oldest_fresh))
            # the new conversations' replies were read from nowhere yet: from their start on
            if checked_at is not None:
                checked_at = min(checked_at, snowflake_time(oldest_fresh))
        return XState(top=top, gaps=state.gaps, conversations=conversations, checked_at=checked_at)

    # --- reply ---------------------------------------------------------------

    def _has_user_context(self) -> bool:
        client = self.client
        return all(
            getattr(client, name, None)
            for name in ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        )

    def reply(self, post: Post, text: str) -> PostedReply:
        """Post `text` as a public reply to `post` with the brand's user context."""
        if not self._has_user_context():
            raise ReplyRejected(
                f"source {self.source!r} has no user-context credentials, so it cannot post; set "
                f"{self.reply_credentials_hint} to the brand account's keys",
                source=self.source,
            )
        if not self.user_id:
            raise ReplyRejected(
                f"source {self.source!r} has no user_id, so a retry could not check whether the reply was "
                "already posted; set user_id to the brand account's numeric id",
                source=self.source,
            )
        problem = reply_length_problem(text)
        if problem is not None:
            raise ReplyRejected(f"reply to {post.key}: {problem}", source=self.source)
        try:
            response = self.client.create_tweet(text=text, in_reply_to_tweet_id=post.native_id, user_auth=True)
        except (tweepy.HTTPException, requests.RequestException) as exc:
            raise reply_error(
                exc, post, source=self.source, credentials_hint=self.reply_credentials_hint, now=self.clock()
            ) from None
        data = response_json(response).get("data") or {}
        reply_id = str(data.get("id") or "")
        if not reply_id:
            raise ReplyOutcomeUnknown(
                f"X accepted the reply to {post.key} but returned no id; it may have been posted", source=self.source
            )
        return PostedReply(
            platform="x", native_id=reply_id, url=tweet_url(reply_id, self.username), posted_at=self.clock()
        )

    def find_own_reply(self, post: Post, text: str | None = None) -> PostedReply | None:
        """The brand's reply to `post` (with this text, or any when None): first the
        conversation in recent search, then the brand's newest posts, because search
        indexes a fresh post with a short delay and the timeline does not."""
        if not self.user_id:
            return None
        conversation = post.conversation_id or post.native_id
        search = self._call(
            "search_recent",
            lambda: self.client.search_recent_tweets(
                f"conversation_id:{conversation} from:{self.user_id}",
                max_results=100,
                tweet_fields=list(OWN_REPLY_FIELDS),
            ),
        )
        found = self._own_replies(parse_page(response_json(search), search.headers), [post], text)
        if found:
            return found[post.key]
        timeline = self._call(
            "users_tweets",
            lambda: self.client.get_users_tweets(
                self.user_id,
                since_id=post.native_id,
                max_results=100,
                tweet_fields=list(OWN_REPLY_FIELDS),
            ),
        )
        return self._own_replies(parse_page(response_json(timeline), timeline.headers), [post], text).get(post.key)

    def find_own_replies(self, posts: Sequence[Post]) -> dict[str, PostedReply]:
        """The brand's replies to any of `posts` (post key -> reply), read from the
        brand's own timeline since the oldest of them: one request for the whole batch
        (up to NATIVE_CHECK_PAGES of 100 posts), where asking post by post would spend
        two each and empty users_tweets' small allowance (10 per 15 min on basic)
        within one check. A reply older than the brand's newest 200 posts is not seen."""
        wanted = [p for p in posts if p.native_id.isdigit()]
        if not self.user_id or not wanted:
            return {}
        since_id = min(wanted, key=lambda p: int(p.native_id)).native_id
        found: dict[str, PostedReply] = {}
        token: str | None = None
        for number in range(NATIVE_CHECK_PAGES):
            call = partial(
                self.client.get_users_tweets,
                self.user_id,
                since_id=since_id,
                max_results=100,
                pagination_token=token,
                tweet_fields=list(OWN_REPLY_FIELDS),
            )
            try:
                response = self._call("users_tweets", call)
            except ConnectorError:
                if number == 0:
                    raise
                break  # what the first page found still counts
            page = parse_page(response_json(response), response.headers)
            found = self._own_replies(page, wanted, None) | found  # a newer page's find stands
            token = page.next_token
            if page.remaining == 0:  # the allowance is spent (_call has blocked the endpoint until the reset)
                break
            if not token:
                break
        return found

    def _own_replies(self, page: Page, posts: Sequence[Post], text: str | None) -> dict[str, PostedReply]:
        """post key -> the brand's earliest reply to it on `page` (with this text, when given)."""
        wanted = comparable_reply_text(text) if text is not None else None
        by_id = {p.native_id: p for p in posts}
        found: dict[str, PostedReply] = {}
        for tweet in sorted(page.tweets, key=lambda t: int(t["id"])):  # parse_page checked the ids
            post = by_id.get(referenced(tweet, "replied_to") or "")
            if post is None or post.key in found:
                continue
            if str(tweet.get("author_id") or self.user_id) != self.user_id:
                continue
            if wanted is not None and comparable_reply_text(str(tweet.get("text", ""))) != wanted:
                continue
            reply_id = str(tweet["id"])
            posted = parse_timestamp(tweet["created_at"]) if tweet.get("created_at") else snowflake_time(reply_id)
            found[post.key] = PostedReply(
                platform="x", native_id=reply_id, url=tweet_url(reply_id, self.username), posted_at=posted
            )
        return found


CONNECTOR = XConnector
