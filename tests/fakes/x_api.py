"""A fake X API v2 on 127.0.0.1 for the real tweepy Client to talk to.

It speaks the shapes X does: `data`, `includes.users`/`includes.tweets` (only the
fields asked for with tweet.fields/user.fields/expansions), `meta.result_count`,
`newest_id`, `oldest_id`, `next_token`, partial `errors`, problem+json error
bodies, and `x-rate-limit-limit/remaining/reset` headers counted per endpoint.
Endpoints: the mentions and posts timelines of a user, recent search (a small
query language: words, "phrases", @handles, from:, conversation_id:, is:retweet,
is:reply, -negation, OR and parentheses) and POST /2/tweets (user context).
Tests inject faults (`fail`, `delay_next_post`, `malform`) and read `requests`.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.x.mapping import snowflake_at

ALWAYS_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
ALWAYS_USER_FIELDS = ("id", "name", "username")


@dataclass
class Recorded:
    method: str
    endpoint: str
    path: str
    params: dict[str, str]
    auth: str  # "bearer", "oauth" or ""
    body: dict[str, Any] | None = None
    bearer: str = ""  # the app token of a bearer request: which app asked


@dataclass
class Fault:
    status: int
    body: dict[str, Any]
    times: int
    reset: int | None = None
    # which requests it answers (by their query parameters); None: the next ones
    when: Callable[[Mapping[str, str]], bool] | None = None


@dataclass
class Limit:
    limit: int
    remaining: int
    reset: int


@dataclass
class FakeX:
    bearer_token: str = "test-bearer"
    # tokens of further apps the fake also accepts (one X, several apps)
    other_bearer_tokens: tuple[str, ...] = ()
    consumer_key: str = "test-consumer-key"
    brand_id: str = "1000"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    hidden_users: set[str] = field(default_factory=set)
    deleted_tweets: set[str] = field(default_factory=set)
    reply_restricted: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    limits: dict[str, Limit] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    # fields X sends wrong for a tweet id (a null id, say), as items X has sent
    malformed: dict[str, dict[str, Any]] = field(default_factory=dict)
    post_delay: float = 0.0
    drop_next_post: bool = False
    # tweets created by POST that reads do not show yet (search indexes with a delay)
    unindexed: set[str] = field(default_factory=set)
    index_delay: bool = False
    _seq: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.add_user(self.brand_id, "acme", "Acme Support", followers=50_000, verified=True)

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> FakeX:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- data --------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        username: str,
        name: str = "",
        *,
        followers: int = 10,
        verified: bool = False,
        hidden: bool = False,
    ) -> str:
        self.users[user_id] = {
            "id": user_id,
            "username": username,
            "name": name or username.title(),
            "verified": verified,
            "verified_type": "business" if verified else "none",
            "protected": hidden,
            "public_metrics": {"followers_count": followers, "following_count": 1, "tweet_count": 5},
        }
        if hidden:
            self.hidden_users.add(user_id)
        return user_id

    def add_tweet(
        self,
        author_id: str,
        text: str,
        *,
        at: datetime | None = None,
        reply_to: str | None = None,
        retweet_of: str | None = None,
        lang: str | None = "en",
        likes: int = 0,
        fields: Mapping[str, Any] | None = None,
    ) -> str:
        """Store a tweet; ids are minted from the time like X's, so they sort by time."""
        with self._lock:
            self._seq += 1
            moment = at or self.clock()
            tweet_id = snowflake_at(moment, self._seq)
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conversation_id": tweet_id,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": likes, "quote_count": 0},
        }
        if lang is not None:
            tweet["lang"] = lang
        if reply_to is not None:
            parent = self.tweets[reply_to]
            tweet["conversation_id"] = parent["conversation_id"]
            tweet["in_reply_to_user_id"] = parent["author_id"]
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
        if retweet_of is not None:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": retweet_of}]
        tweet.update(fields or {})
        self.tweets[tweet_id] = tweet
        return tweet_id

    def delete_tweet(self, tweet_id: str) -> None:
        self.deleted_tweets.add(tweet_id)

    # --- faults and limits -------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        times: int = 1,
        detail: str = "",
        reset: int | None = None,
        when: Callable[[Mapping[str, str]], bool] | None = None,
    ) -> None:
        """The next `times` requests to `endpoint` (those `when` accepts, if given) get
        `status` with X's problem+json body."""
        titles = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error"}
        title = titles.get(status, "Service Unavailable")
        body = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
        self.faults.setdefault(endpoint, []).append(Fault(status, body, times, reset, when))

    def malform(self, tweet_id: str, **fields: Any) -> None:
        """Reads send this tweet with `fields` replaced (e.g. id=None); it still sorts
        and pages by its real id."""
        self.malformed[tweet_id] = fields

    def set_limit(self, endpoint: str, *, limit: int, remaining: int, reset: datetime) -> None:
        self.limits[endpoint] = Limit(limit, remaining, int(reset.timestamp()))

    def delay_next_post(self, seconds: float) -> None:
        """The next POST creates the tweet, then answers only after `seconds`."""
        self.post_delay = seconds

    def index_now(self) -> None:
        """Make every posted tweet visible to reads (the index caught up)."""
        self.unindexed.clear()

    def count(self, endpoint: str | None = None) -> int:
        return sum(1 for r in self.requests if endpoint is None or r.endpoint == endpoint)

    def posted_replies(self, to: str) -> list[dict[str, Any]]:
        return [
            t
            for t in self.tweets.values()
            if t["author_id"] == self.brand_id and {"type": "replied_to", "id": to} in t.get("referenced_tweets", [])
        ]

    # --- HTTP ----------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body: dict[str, Any] | None = None
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            body = json.loads(handler.rfile.read(length) or b"{}")
        endpoint, arg = _route(method, parts.path)
        header = handler.headers.get("Authorization") or ""
        auth = "bearer" if header.startswith("Bearer ") else "oauth" if header.startswith("OAuth ") else ""
        bearer = header.removeprefix("Bearer ") if auth == "bearer" else ""
        with self._lock:
            self.requests.append(Recorded(method, endpoint, parts.path, params, auth, body, bearer))
        if endpoint == "unknown":
            return _send(handler, 404, {"title": "Not Found Error", "detail": "no such route", "status": 404}, {})
        if not self._authorized(endpoint, header):
            body_401 = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
            return _send(handler, 401, body_401, {})
        headers, limited = self._rate(endpoint)
        if limited:
            return _send(
                handler, 429, {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}, headers
            )
        fault = self._take_fault(endpoint, params)
        if fault is not None:
            if fault.reset is not None:
                headers["x-rate-limit-reset"] = str(fault.reset)
                headers["x-rate-limit-remaining"] = "0"
            return _send(handler, fault.status, fault.body, headers)
        if endpoint == "create_tweet":
            return self._create(handler, body or {}, headers)
        status, payload = self._read(endpoint, arg, params)
        return _send(handler, status, payload, headers)

    def _authorized(self, endpoint: str, header: str) -> bool:
        if endpoint == "create_tweet":
            return header.startswith("OAuth ") and f'oauth_consumer_key="{self.consumer_key}"' in header
        apps = (self.bearer_token, *self.other_bearer_tokens)
        return header in {f"Bearer {token}" for token in apps} or header.startswith("OAuth ")

    def _rate(self, endpoint: str) -> tuple[dict[str, str], bool]:
        with self._lock:
            now = int(self.clock().timestamp())
            limit = self.limits.get(endpoint)
            if limit is None or limit.reset <= now:
                previous = limit.limit if limit else 450
                limit = self.limits[endpoint] = Limit(previous, previous, now + 900)
            limited = limit.remaining <= 0
            if not limited:
                limit.remaining -= 1
            headers = {
                "x-rate-limit-limit": str(limit.limit),
                "x-rate-limit-remaining": str(limit.remaining),
                "x-rate-limit-reset": str(limit.reset),
            }
        return headers, limited

    def _take_fault(self, endpoint: str, params: Mapping[str, str]) -> Fault | None:
        with self._lock:
            queue = self.faults.get(endpoint) or []
            fault = next((f for f in queue if f.when is None or f.when(params)), None)
            if fault is None:
                return None
            fault.times -= 1
            if fault.times <= 0:
                queue.remove(fault)
            return fault

    def _create(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], headers: dict[str, str]) -> None:
        reply = body.get("reply") or {}
        target = str(reply.get("in_reply_to_tweet_id") or "")
        if target and (target not in self.tweets or target in self.deleted_tweets):
            return _send(
                handler,
                403,
                {
                    "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
                headers,
            )
        if target in self.reply_restricted:
            detail = (
                "Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                "engaged by the author of the post you are replying to."
            )
            return _send(
                handler, 403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}, headers
            )
        if self.drop_next_post:
            # the connection dies before X got the request: nothing is created, no answer
            self.drop_next_post = False
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return None
        text = str(body.get("text") or "")
        if target:
            handle = self.users[self.tweets[target]["author_id"]]["username"]
            stored = f"@{handle} {text}".replace("&", "&amp;")
            new_id = self.add_tweet(self.brand_id, stored, reply_to=target)
        else:
            new_id = self.add_tweet(self.brand_id, text.replace("&", "&amp;"))
        if self.index_delay:
            self.unindexed.add(new_id)
        if self.post_delay:
            delay, self.post_delay = self.post_delay, 0.0
            self._release.wait(delay)
        _send(handler, 201, {"data": {"id": new_id, "text": text, "edit_history_tweet_ids": [new_id]}}, headers)

    def _read(self, endpoint: str, arg: str, params: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if endpoint in ("users_mentions", "users_tweets") and arg not in self.users:
            detail = f"Could not find user with id: [{arg}]."
            error = {"value": arg, "detail": detail, "title": "Not Found Error", "resource_type": "user"}
            return 200, {"errors": [{**error, "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
        hidden = self.deleted_tweets | self.unindexed
        candidates = [t for t in self.tweets.values() if t["id"] not in hidden]
        if endpoint == "users_mentions":
            handle = "@" + self.users[arg]["username"].casefold()
            candidates = [t for t in candidates if handle in t["text"].casefold()]
        elif endpoint == "users_tweets":
            candidates = [t for t in candidates if t["author_id"] == arg]
        else:
            try:
                matcher = parse_query(params.get("query", ""), self.users)
            except ValueError as exc:
                return 400, {"errors": [{"message": str(exc), "parameters": {"query": [params.get("query")]}}]}
            candidates = [t for t in candidates if matcher(t)]
        candidates = [t for t in candidates if _in_range(t, params)]
        candidates.sort(key=lambda t: int(t["id"]), reverse=True)
        size = int(params.get("max_results", 10))
        token = params.get("next_token") or params.get("pagination_token")
        if token:
            below = int(token.removeprefix("page-"))
            candidates = [t for t in candidates if int(t["id"]) < below]
        page, rest = candidates[:size], candidates[size:]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"] = page[0]["id"]
            meta["oldest_id"] = page[-1]["id"]
        if page and rest:
            meta["next_token"] = f"page-{page[-1]['id']}"
        return 200, self._expand(page, params, meta)

    def _expand(self, page: list[dict[str, Any]], params: Mapping[str, str], meta: dict[str, Any]) -> dict[str, Any]:
        tweet_fields = set(ALWAYS_TWEET_FIELDS) | set(filter(None, params.get("tweet.fields", "").split(",")))
        user_fields = set(ALWAYS_USER_FIELDS) | set(filter(None, params.get("user.fields", "").split(",")))
        expansions = set(filter(None, params.get("expansions", "").split(",")))
        payload: dict[str, Any] = {"meta": meta}
        if page:
            payload["data"] = [{**_only(t, tweet_fields), **self.malformed.get(t["id"], {})} for t in page]
        author_ids: list[str] = []
        included: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        if "author_id" in expansions:
            author_ids.extend(t["author_id"] for t in page)
        if "referenced_tweets.id" in expansions:
            for tweet in page:
                for ref in tweet.get("referenced_tweets", []):
                    parent = self.tweets.get(ref["id"])
                    if parent is None or ref["id"] in self.deleted_tweets:
                        errors.append(
                            {
                                "value": ref["id"],
                                "detail": f"Could not find tweet with referenced_tweets.id: [{ref['id']}].",
                                "title": "Not Found Error",
                                "resource_type": "tweet",
                                "parameter": "referenced_tweets.id",
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        )
                        continue
                    included.append(_only(parent, tweet_fields))
                    if "referenced_tweets.id.author_id" in expansions:
                        author_ids.append(parent["author_id"])
        users = []
        for user_id in dict.fromkeys(author_ids):
            if user_id in self.users and user_id not in self.hidden_users:
                users.append(_only(self.users[user_id], user_fields))
        includes: dict[str, Any] = {}
        if users:
            includes["users"] = users
        if included:
            includes["tweets"] = included
        if includes:
            payload["includes"] = includes
        if errors:
            payload["errors"] = errors
        return payload


def _only(record: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k in names}


def _in_range(tweet: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    tweet_id = int(tweet["id"])
    if "since_id" in params and tweet_id <= int(params["since_id"]):
        return False
    if "until_id" in params and tweet_id >= int(params["until_id"]):
        return False
    created = datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))
    if "start_time" in params and created < datetime.fromisoformat(params["start_time"].replace("Z", "+00:00")):
        return False
    return not ("end_time" in params and created > datetime.fromisoformat(params["end_time"].replace("Z", "+00:00")))


def _route(method: str, path: str) -> tuple[str, str]:
    if method == "POST" and path == "/2/tweets":
        return "create_tweet", ""
    if method == "GET" and path == "/2/tweets/search/recent":
        return "search_recent", ""
    match = re.fullmatch(r"/2/users/(\w+)/(mentions|tweets)", path)
    if method == "GET" and match:
        return ("users_mentions" if match.group(2) == "mentions" else "users_tweets"), match.group(1)
    return "unknown", ""


def _send(handler: BaseHTTPRequestHandler, status: int, payload: Mapping[str, Any], headers: Mapping[str, str]) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    content_type = "application/problem+json" if status >= 400 and "errors" not in payload else "application/json"
    handler.send_header("Content-Type", f"{content_type}; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
        handler.wfile.write(data)


# --- a small X search query language ------------------------------------------------

Matcher = Callable[[Mapping[str, Any]], bool]
_TOKEN = re.compile(r'\(|\)|-?"[^"]*"|-?[^\s()]+')


def parse_query(query: str, users: Mapping[str, Mapping[str, Any]]) -> Matcher:
    """Words and phrases (case-insensitive), @handle, from:, conversation_id:,
    is:retweet, is:reply, a leading - to negate, OR, parentheses; adjacency is AND."""
    tokens = _TOKEN.findall(query)
    if not tokens:
        raise ValueError("query must not be empty")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def expression() -> Matcher:
        options = [conjunction()]
        while peek() == "OR":
            take()
            options.append(conjunction())
        return lambda t: any(m(t) for m in options)

    def conjunction() -> Matcher:
        parts = []
        while peek() not in (None, ")", "OR"):
            parts.append(term())
        if not parts:
            raise ValueError(f"empty group in query {query!r}")
        return lambda t: all(m(t) for m in parts)

    def term() -> Matcher:
        token = take()
        if token == "(":
            inner = expression()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {query!r}")
            return inner
        if token.startswith("-"):
            positive = atom(token[1:])
            return lambda t: not positive(t)
        return atom(token)

    def atom(token: str) -> Matcher:
        lowered = token.casefold()
        if lowered.startswith("from:"):
            who = lowered[5:]
            return lambda t: (
                t["author_id"] == who or users.get(t["author_id"], {}).get("username", "").casefold() == who
            )
        if lowered.startswith("conversation_id:"):
            conversation = token.split(":", 1)[1]
            return lambda t: t.get("conversation_id") == conversation
        if lowered == "is:retweet":
            return lambda t: any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))
        if lowered == "is:reply":
            return lambda t: any(r["type"] == "replied_to" for r in t.get("referenced_tweets", []))
        text = lowered.strip('"')
        return lambda t: text in t["text"].casefold()

    matcher = expression()
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r} in query {query!r}")
    return matcher


def iter_times(start: datetime, count: int, step: timedelta) -> Iterator[datetime]:
    for index in range(count):
        yield start + step * index
