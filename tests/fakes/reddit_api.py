"""A fake Reddit on 127.0.0.1 that speaks Reddit's wire format, for praw to talk to.

One HTTP server plays both of praw's hosts: the token endpoint
(`/api/v1/access_token`, normally on www.reddit.com) and the OAuth API
(normally oauth.reddit.com). Point praw's `oauth_url` and `reddit_url` at
`fake.url`. State is in memory: subreddits with submissions (t3) and comments
(t1), the inbox, users and their karma. Tests add things with the builders,
script faults with `fail_next`, and read `requests` to see what praw sent.

Shapes follow Reddit's real responses (Listing/t1/t3 objects, `json.errors`
triples on /api/comment, 302 to search for an unknown subreddit, 403/404 with
a `reason` for private/banned ones, x-ratelimit-* headers on every API call).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
T_START = 1_763_600_000  # 2025-11-20, an arbitrary fixed epoch for test data


def base36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = BASE36[digit] + out
        if number == 0:
            return out


@dataclass
class Fault:
    """A scripted failure for the next request(s) whose path starts with `path`."""

    path: str
    status: int = 0  # an HTTP status to answer with
    hang: bool = False  # never answer (until the test ends): the client times out
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int = 1


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    form: dict[str, str]
    token: str


class FakeReddit:
    """In-memory Reddit state plus the HTTP server serving it."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client",
        client_secret: str = "fake-secret",
        username: str = "LumoSupport",
        password: str = "fake-password",
        refresh_token: str = "fake-refresh",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.refresh_token = refresh_token
        self.lock = threading.RLock()
        self.things: dict[str, dict[str, Any]] = {}  # fullname -> data
        self.kinds: dict[str, str] = {}  # fullname -> t1 | t3
        self.subreddits: dict[str, str] = {}  # lower name -> ok | private | banned | quarantined
        self.inbox: dict[str, list[str]] = {"mentions": [], "comments": [], "selfreply": []}
        self.users: dict[str, dict[str, Any]] = {}  # lower name -> {id, name, link_karma, comment_karma}
        self.tokens: dict[str, str | None] = {}  # access token -> username (None: app-only)
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.reply_errors: dict[str, list[str]] = {}  # target fullname -> [error_type, message, field]
        self.hang_after_replies = 0  # this many next replies are posted, then the answer is lost
        self.served_as: dict[str, dict[str, Any]] = {}  # fullname -> fields sent instead of the stored ones
        self.now = float(T_START)
        self.listing_cap = 1000  # Reddit lists only about the newest 1000 items of any listing
        self.after_on_last_page = False  # Reddit may name an `after` on a listing's last page too
        self.rate_remaining = 590.0
        self.rate_used = 10
        self.rate_reset = 300
        self._ids = itertools.count(36**5)
        self._tokens = itertools.count(1)
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle -----------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeReddit:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # let hung requests finish
        self._server.shutdown()
        self._server.server_close()

    # --- builders ------------------------------------------------------------
    def tick(self, seconds: float = 60) -> float:
        """The fake's clock: each new thing is `seconds` newer than the last."""
        with self.lock:
            self.now += seconds
            return self.now

    def add_subreddit(self, name: str, status: str = "ok") -> None:
        self.subreddits[name.lower()] = status

    def add_user(self, name: str, *, link_karma: int = 0, comment_karma: int = 0) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(name.lower())
            if user is None:
                user = {"id": f"t2_{base36(next(self._ids))}", "name": name}
                self.users[name.lower()] = user
            user.update(link_karma=link_karma, comment_karma=comment_karma)
            return user

    def _author_fields(self, author: str) -> dict[str, Any]:
        if author == "[deleted]":
            return {"author": "[deleted]"}
        user = self.users.get(author.lower()) or self.add_user(author)
        return {"author": user["name"], "author_fullname": user["id"]}

    def add_submission(
        self,
        subreddit: str,
        title: str,
        *,
        selftext: str = "",
        author: str = "alice",
        created: float | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.lock:
            self.subreddits.setdefault(subreddit.lower(), "ok")
            ident = base36(next(self._ids))
            slug = "_".join(title.lower().split())[:40]
            data: dict[str, Any] = {
                "id": ident,
                "name": f"t3_{ident}",
                "title": title,
                "selftext": selftext,
                "is_self": True,
                "subreddit": subreddit,
                "subreddit_id": "t5_2qh1i",
                "subreddit_name_prefixed": f"r/{subreddit}",
                "created_utc": float(created if created is not None else self.tick()),
                "permalink": f"/r/{subreddit}/comments/{ident}/{slug}/",
                "url": f"https://www.reddit.com/r/{subreddit}/comments/{ident}/{slug}/",
                "domain": f"self.{subreddit}",
                "score": 1,
                "ups": 1,
                "upvote_ratio": 1.0,
                "num_comments": 0,
                "num_crossposts": 0,
                "over_18": False,
                "locked": False,
                "archived": False,
                "stickied": False,
                "distinguished": None,
                "removed_by_category": None,
                "link_flair_text": None,
                "author_flair_text": None,
                **self._author_fields(author),
            }
            data.update(extra)
            self.things[data["name"]] = data
            self.kinds[data["name"]] = "t3"
            return data

    def add_comment(
        self,
        parent: str,
        body: str,
        *,
        author: str = "bob",
        created: float | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.lock:
            parent_data = self.things[parent]
            link = parent_data if self.kinds[parent] == "t3" else self.things[parent_data["link_id"]]
            ident = base36(next(self._ids))
            data: dict[str, Any] = {
                "id": ident,
                "name": f"t1_{ident}",
                "body": body,
                "parent_id": parent,
                "link_id": link["name"],
                "link_title": link["title"],
                "link_author": link["author"],
                "link_permalink": f"https://www.reddit.com{link['permalink']}",
                "subreddit": link["subreddit"],
                "subreddit_id": link["subreddit_id"],
                "subreddit_name_prefixed": link["subreddit_name_prefixed"],
                "created_utc": float(created if created is not None else self.tick()),
                "permalink": f"{link['permalink']}{ident}/",
                "score": 1,
                "ups": 1,
                "replies": "",
                "archived": False,
                "locked": False,
                "stickied": False,
                "distinguished": None,
                "author_flair_text": None,
                **self._author_fields(author),
            }
            data.update(extra)
            self.things[data["name"]] = data
            self.kinds[data["name"]] = "t1"
            link["num_comments"] += 1
            return data

    def deliver(self, box: str, fullname: str) -> None:
        """Put a comment into the logged-in user's inbox: mentions, comments or selfreply."""
        with self.lock:
            self.inbox[box].append(fullname)

    def set_rate(self, *, remaining: float, used: int, reset: int) -> None:
        with self.lock:
            self.rate_remaining, self.rate_used, self.rate_reset = remaining, used, reset

    def fail_next(self, path: str, *, status: int = 0, hang: bool = False, times: int = 1, **headers: str) -> None:
        """Script the next `times` requests to `path...` to fail (status) or hang."""
        body = {"message": "failure", "error": status} if status else None
        fixed = {k.replace("_", "-"): v for k, v in headers.items()}
        with self.lock:
            self.faults.append(Fault(path=path, status=status, hang=hang, headers=fixed, body=body, times=times))

    def reject_replies_to(self, fullname: str, error_type: str, message: str) -> None:
        self.reply_errors[fullname] = [error_type, message, "parent"]

    def replies_by(self, author: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                d
                for d in self.things.values()
                if self.kinds[d["name"]] == "t1" and d["author"].lower() == author.lower()
            ]

    def remove(self, fullname: str) -> None:
        """A moderator removes the thing: it leaves every listing, and `after=` it finds nothing."""
        with self.lock:
            del self.things[fullname]
            del self.kinds[fullname]
            for box in self.inbox.values():
                if fullname in box:
                    box.remove(fullname)

    def corrupt(self, fullname: str, **fields: Any) -> None:
        """Serve the thing with these fields (a malformed payload), while it keeps its
        place in listings by its stored creation time."""
        self.served_as[fullname] = fields

    def text_of(self, fullname: str) -> str:
        data = self.things[fullname]
        return f"{data.get('title', '')} {data.get('selftext', '')} {data.get('body', '')}"

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # --- wire helpers ----------------------------------------------------------
    def thing(self, fullname: str, *, with_replies: bool = False, depth: int = 1) -> dict[str, Any]:
        data = {**self.things[fullname], **self.served_as.get(fullname, {})}
        if with_replies and depth > 0:
            children = self._children(fullname)
            data["replies"] = self.listing([self.thing(c, with_replies=True, depth=depth - 1) for c in children])
        return {"kind": self.kinds[fullname], "data": data}

    def _children(self, fullname: str) -> list[str]:
        found = [n for n, d in self.things.items() if self.kinds[n] == "t1" and d["parent_id"] == fullname]
        return sorted(found, key=self._newest_first)

    def _newest_first(self, fullname: str) -> tuple[float, int]:
        data = self.things[fullname]
        return (-data["created_utc"], -int(data["id"], 36))

    @staticmethod
    def listing(children: list[dict[str, Any]], after: str | None = None) -> dict[str, Any]:
        return {
            "kind": "Listing",
            "data": {
                "after": after,
                "dist": len(children),
                "modhash": "",
                "geo_filter": "",
                "children": children,
                "before": None,
            },
        }

    def page(self, names: list[str], params: dict[str, str]) -> dict[str, Any]:
        """A `new`-ordered page of `names` after params['after'], limit params['limit']."""
        ordered = sorted(names, key=self._newest_first)[: self.listing_cap]
        limit = min(int(params.get("limit", "25")), 100)
        start = 0
        if params.get("after"):
            if params["after"] not in ordered:
                return self.listing([])
            start = ordered.index(params["after"]) + 1
        chunk = ordered[start : start + limit]
        more = start + limit < len(ordered)
        last = chunk[-1] if chunk and (more or self.after_on_last_page) else None
        return self.listing([self.thing(n) for n in chunk], after=last)


def _matches(query: str, text: str) -> bool:
    """Enough of Reddit's search syntax for tests: quoted phrases or words joined by OR."""
    terms = [t.strip().strip('"').lower() for t in query.split(" OR ")]
    return any(t and t in text.lower() for t in terms)


def _handler(fake: FakeReddit) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        # --- plumbing ------------------------------------------------------
        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode("utf-8") if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if (self.headers.get("Connection") or "").lower() == "close":
                # say so, as real servers do, or the client may reuse the socket we are closing
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def _rate_headers(self) -> dict[str, str]:
            with fake.lock:
                fake.rate_remaining = max(0.0, fake.rate_remaining - 1)
                fake.rate_used += 1
                return {
                    "x-ratelimit-remaining": f"{fake.rate_remaining:.1f}",
                    "x-ratelimit-used": str(fake.rate_used),
                    "x-ratelimit-reset": str(fake.rate_reset),
                }

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/") or "/"
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8") if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw).items()}
            token = (self.headers.get("Authorization") or "").removeprefix("bearer ").strip()
            with fake.lock:
                fake.requests.append(Recorded(method, path, params, form, token))
                fault = next((f for f in fake.faults if path.startswith(f.path)), None)
                if fault is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        fake.faults.remove(fault)
            if fault is not None:
                if fault.hang:
                    fake._release.wait(10)
                    return
                headers = dict(fault.headers)
                if path != "/api/v1/access_token" and "x-ratelimit-remaining" not in headers:
                    headers.update(self._rate_headers())
                self._send(fault.status, fault.body, headers)
                return
            if path == "/api/v1/access_token":
                self._token(form)
                return
            user = fake.tokens.get(token, "")
            if token not in fake.tokens:
                self._send(
                    401,
                    {"message": "Unauthorized", "error": 401},
                    {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
                )
                return
            headers = self._rate_headers()
            status, body, extra = self._route(method, path, params, form, user)
            self._send(status, body, {**headers, **extra})

        def _token(self, form: dict[str, str]) -> None:
            expected = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                self._send(401, {"message": "Unauthorized", "error": 401})
                return
            grant = form.get("grant_type", "")
            user: str | None = None
            if grant == "password":
                if form.get("username") != fake.username or form.get("password") != fake.password:
                    self._send(200, {"error": "invalid_grant"})
                    return
                user = fake.username
            elif grant == "refresh_token":
                if form.get("refresh_token") != fake.refresh_token:
                    self._send(200, {"error": "invalid_grant"})
                    return
                user = fake.username
            elif grant != "client_credentials":
                self._send(200, {"error": "unsupported_grant_type"})
                return
            with fake.lock:
                token = f"token-{next(fake._tokens)}"
                fake.tokens[token] = user
            self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

        # --- API -------------------------------------------------------------
        def _route(
            self, method: str, path: str, params: dict[str, str], form: dict[str, str], user: str | None
        ) -> tuple[int, Any, dict[str, str]]:
            segments = path.strip("/").split("/")
            with fake.lock:
                if method == "GET" and len(segments) >= 3 and segments[0] == "r":
                    return self._subreddit(segments[1], segments[2], params)
                if method == "GET" and path == "/search":
                    names = [
                        n for n, k in fake.kinds.items() if k == "t3" and _matches(params.get("q", ""), fake.text_of(n))
                    ]
                    return 200, fake.page(names, params), {}
                if method == "GET" and segments[0] == "message" and len(segments) == 2:
                    if user is None:
                        return 403, {"message": "Forbidden", "error": 403}, {}
                    return 200, fake.page(list(fake.inbox.get(segments[1], [])), params), {}
                if method == "GET" and path == "/api/info":
                    ids = [i for i in params.get("id", "").split(",") if i in fake.things]
                    return 200, fake.listing([fake.thing(i) for i in ids]), {}
                if method == "GET" and path == "/api/user_data_by_account_ids":
                    wanted = set(params.get("ids", "").split(","))
                    found = {
                        u["id"]: {
                            "name": u["name"],
                            "created_utc": float(T_START - 86400 * 365),
                            "link_karma": u["link_karma"],
                            "comment_karma": u["comment_karma"],
                            "profile_img": "",
                            "profile_color": "",
                            "profile_over_18": False,
                        }
                        for u in fake.users.values()
                        if u["id"] in wanted
                    }
                    if not found:
                        return 404, {"message": "Not Found", "error": 404}, {}
                    return 200, found, {}
                if method == "GET" and segments[0] == "comments" and len(segments) >= 2:
                    return self._comments_page(f"t3_{segments[1]}", params)
                if method == "GET" and segments[:2] == ["api", "v1"] and segments[-1] == "me":
                    if user is None:
                        return 403, {"message": "Forbidden", "error": 403}, {}
                    return 200, {"name": user, "id": fake.users.get(user.lower(), {}).get("id", "t2_0")[3:]}, {}
                if method == "POST" and path == "/api/comment":
                    return self._reply(form, user)
            return 404, {"message": "Not Found", "error": 404}, {}

        def _subreddit(self, name: str, listing: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            wanted = {n.lower() for n in name.split("+")}
            for sub in wanted:
                status = fake.subreddits.get(sub)
                if status is None:
                    return 302, None, {"Location": f"/subreddits/search.json?q={sub}"}
                if status == "private":
                    return 403, {"reason": "private", "message": "Forbidden", "error": 403}, {}
                if status == "quarantined":
                    return 403, {"reason": "quarantined", "message": "Forbidden", "error": 403}, {}
                if status == "banned":
                    return 404, {"reason": "banned", "message": "Not Found", "error": 404}, {}
            kind = {"new": "t3", "comments": "t1", "search": "t3"}.get(listing)
            if kind is None:
                return 404, {"message": "Not Found", "error": 404}, {}
            names = [
                n
                for n, k in fake.kinds.items()
                if k == kind
                and fake.things[n]["subreddit"].lower() in wanted
                and (listing != "search" or _matches(params.get("q", ""), fake.text_of(n)))
            ]
            return 200, fake.page(names, params), {}

        def _comments_page(self, link: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            if link not in fake.things:
                return 404, {"message": "Not Found", "error": 404}, {}
            head = fake.listing([fake.thing(link)])
            depth = int(params.get("depth", "10"))
            if params.get("comment"):
                focus = f"t1_{params['comment']}"
                if focus not in fake.things:
                    return 200, [head, fake.listing([])], {}
                body = fake.listing([fake.thing(focus, with_replies=True, depth=depth)])
            else:
                top = fake._children(link)[: int(params.get("limit", "200"))]
                body = fake.listing([fake.thing(c, with_replies=True, depth=depth - 1) for c in top])
            return 200, [head, body], {}

        def _reply(self, form: dict[str, str], user: str | None) -> tuple[int, Any, dict[str, str]]:
            if user is None:
                return 403, {"message": "Forbidden", "error": 403}, {}
            target = form.get("thing_id", "")
            if target in fake.reply_errors:
                return 200, {"json": {"errors": [fake.reply_errors[target]]}}, {}
            if target not in fake.things:
                return 200, {"json": {"errors": [["INVALID_THING_ID", "that thing doesn't exist", "thing_id"]]}}, {}
            created = fake.add_comment(target, form.get("text", ""), author=user)
            thing = {"kind": "t1", "data": dict(created)}
            if fake.hang_after_replies > 0:
                fake.hang_after_replies -= 1
                # the comment exists now, but the answer never reaches the client
                fake.lock.release()
                try:
                    fake._release.wait(10)
                finally:
                    fake.lock.acquire()
            return 200, {"json": {"errors": [], "data": {"things": [thing]}}}, {}

    return Handler


@contextmanager
def running_fake(**kwargs: Any) -> Iterator[FakeReddit]:
    fake = FakeReddit(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
