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
persists the window (client.py).

Payload mapping is in mapping.py, the cursor's spans and gaps in cursor.py, the
source table in options.py, the request budget in budget.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
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
from connectors.x.budget import MODE_ENDPOINT, NATIVE_CHECK_PAGES, X_API_BASE_URL
from connectors.x.client import (
    SHARED_RATE_WINDOWS,
    TWEEPY_HOST,
    BaseUrlSession,
    RateWindows,
    WindowedCalls,
    build_client,
    reply_error,
    response_json,
)
from connectors.x.cursor import (
    Run,
    Span,
    SpanOutcome,
    TopRead,
    XState,
    gap_within_reach,
    live_conversations,
    lost_problem,
    merge_gaps,
    newer,
    older,
    top_within_reach,
    track_conversations,
)
from connectors.x.mapping import (
    Page,
    own_replies,
    parse_page,
    tweet_url,
)
from connectors.x.options import MODES, read_source
from connectors.x.text import MAX_WEIGHTED_LENGTH, reply_length_problem, weighted_length
from watcher.core.config import ConfigProblem, SourceConfig
from watcher.core.cursor import Cursor
from watcher.core.post import Post, utc_now

__all__ = ["X_API_BASE_URL", "BaseUrlSession", "RateWindows", "XConnector", "build_client"]

log = logging.getLogger(__name__)


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
        self.reply_credentials_hint = reply_credentials_hint
        self.rate_windows = rate_windows
        self.clock = clock
        self.endpoint = MODE_ENDPOINT[mode]
        # seconds one request may wait for X (build_client's timeout): the queue's send lease is sized from it
        session = client.session if isinstance(client.session, BaseUrlSession) else None
        self.request_timeout = session.timeout if session is not None else None
        base = session.base_url if session is not None else TWEEPY_HOST
        app = hashlib.sha256(str(client.bearer_token or "").encode()).hexdigest()[:12]
        self._window_prefix = f"{base}|{app}|"
        self.calls = WindowedCalls(
            rate_windows, self._window_prefix, clock, source=source, credentials_hint=credentials_hint
        )

    @property
    def credentials_hint(self) -> str:
        """Where the bearer token comes from, as read errors name it."""
        return self.calls.credentials_hint

    @credentials_hint.setter
    def credentials_hint(self, hint: str) -> None:
        self.calls.credentials_hint = hint

    @classmethod
    def from_config(cls, cfg: SourceConfig, env: Mapping[str, str]) -> Self:
        access, settings = read_source(cfg, env)
        return cls(build_client(**asdict(access)), source=cfg.name, **asdict(settings))

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
        self.calls.check(self.endpoint, now)
        state = XState.from_cursor(cursor) or XState(top=Span(start_time=now - self.backfill))
        conversations = live_conversations(state.conversations, now - self.conversation_window)
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
        posts, problems = run.posts(source=self.source, brand_user_id=self.user_id)
        all_gaps = [top.gap, *gaps] if top.gap is not None else gaps
        new_state = XState(
            top=top.span, gaps=merge_gaps(all_gaps), conversations=conversations, checked_at=top.checked_at
        )
        if self.mode == "conversations":
            new_state = track_conversations(new_state, posts, now - self.conversation_window)
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
        top = top_within_reach(state, now, run) if self.endpoint == "search_recent" else state.top
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
            reachable = gap_within_reach(gap, now, run) if self.endpoint == "search_recent" else gap
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
            if page.remaining == 0:  # calls.call has blocked the endpoint until the reset
                run.stopped = run.spent = True
            if token is None:
                return SpanOutcome(newest=newest, gap=None)
            if run.stopped:
                break
        until = oldest or span.until_id
        return SpanOutcome(newest=newest, gap=replace(span, until_id=until))

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
        response = self.calls.call(self.endpoint, call)
        body = response_json(response)
        page = parse_page(body, response.headers)
        if not page.tweets and page.errors and "meta" not in body:
            detail = "; ".join(str(e.get("detail") or e.get("title") or e) for e in page.errors)
            raise SourceMisconfigured(
                f"X answered with errors only: {detail}; check user_id and query", source=self.source
            )
        return page

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

    # --- reply ---------------------------------------------------------------

    def _has_user_context(self) -> bool:
        client = self.client
        return all((client.consumer_key, client.consumer_secret, client.access_token, client.access_token_secret))

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
        search = self.calls.call(
            "search_recent",
            lambda: self.client.search_recent_tweets(
                f"conversation_id:{conversation} from:{self.user_id}",
                max_results=100,
                tweet_fields=list(OWN_REPLY_FIELDS),
            ),
        )
        found = own_replies(
            parse_page(response_json(search), search.headers),
            [post],
            text,
            user_id=self.user_id,
            username=self.username,
        )
        if found:
            return found[post.key]
        timeline = self.calls.call(
            "users_tweets",
            lambda: self.client.get_users_tweets(
                self.user_id,
                since_id=post.native_id,
                max_results=100,
                tweet_fields=list(OWN_REPLY_FIELDS),
            ),
        )
        return own_replies(
            parse_page(response_json(timeline), timeline.headers),
            [post],
            text,
            user_id=self.user_id,
            username=self.username,
        ).get(post.key)

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
                response = self.calls.call("users_tweets", call)
            except ConnectorError:
                if number == 0:
                    raise
                break  # what the first page found still counts
            page = parse_page(response_json(response), response.headers)
            found = (
                own_replies(page, wanted, None, user_id=self.user_id, username=self.username) | found
            )  # a newer page's find stands
            token = page.next_token
            if page.remaining == 0:  # the allowance is spent (calls.call has blocked the endpoint until the reset)
                break
            if not token:
                break
        return found


CONNECTOR = XConnector
