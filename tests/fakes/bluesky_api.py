"""A fake Bluesky PDS and AppView on 127.0.0.1 for the real atproto SDK to talk to.

It speaks XRPC's shapes: createSession and refreshSession with JWTs whose `exp` the
SDK reads (access tokens expire in `access_ttl` real seconds; `expire_tokens` makes
the server answer 400 ExpiredToken early), listNotifications (newest first, `cursor`,
`reasons`), searchPosts (sort latest, `since`, `lang`, `cursor`), getPostThread
(depth 1; 400 NotFound for a deleted post), createRecord; errors as
`{"error", "message"}`; RateLimit-Limit/Remaining/Reset/Policy on every answer.
Tests seed posts, inject faults (`fail`, `delay_next_write`) and read `requests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackFake, body_of, send_json

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BRAND = ("did:plc:lumobrand0000000000000", "lumo.bsky.social")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def cid_of(text: str) -> str:
    digest = base64.b32encode(hashlib.sha256(text.encode()).digest()).decode().lower().rstrip("=")
    return f"bafyrei{digest[:52]}"


def jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256K', 'typ': 'at+jwt'})}.{part(claims)}.c2lnbmF0dXJl"


@dataclass
class Recorded:
    method: str
    nsid: str
    params: dict[str, list[str]]


@dataclass
class Fault:
    nsid: str
    status: int
    error: str
    message: str
    headers: dict[str, str]
    times: int


@dataclass
class FakeBluesky(LoopbackFake):
    brand: tuple[str, str] = BRAND
    password: str = "app-pass-word-1234"
    access_ttl: float = 7200.0  # seconds of real time
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)  # uri -> stored post
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    remaining: int = 2999
    reset: datetime = T0 + timedelta(minutes=5)
    write_delay: float = 0.0
    logins: int = 0
    refreshes: int = 0
    _access: set[str] = field(default_factory=set)
    _refresh: set[str] = field(default_factory=set)
    _ids: Any = field(default_factory=lambda: count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- seeding and faults -----------------------------------------------------------
    def add_post(
        self, text: str, at: datetime, *, by: tuple[str, str], reply_to: str | None = None,
        langs: tuple[str, ...] = ("en",), indexed: datetime | None = None,
    ) -> str:  # fmt: skip
        uri = f"at://{by[0]}/app.bsky.feed.post/3l{next(self._ids):011d}"
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": stamp(at),
                                  "langs": list(langs)}  # fmt: skip
        if reply_to is not None:
            parent = self.posts[reply_to]
            root = parent["record"].get("reply", {}).get("root") or {"uri": reply_to, "cid": parent["cid"]}
            record["reply"] = {"root": root, "parent": {"uri": reply_to, "cid": parent["cid"]}}
        self.posts[uri] = {"uri": uri, "cid": cid_of(uri + text), "author": {"did": by[0], "handle": by[1],
                           "displayName": by[1].split(".")[0].title()}, "record": record,
                           "indexedAt": stamp(indexed or at), "at": indexed or at}  # fmt: skip
        return uri

    def delete(self, uri: str) -> None:
        self.posts[uri]["deleted"] = True

    def fail(
        self, nsid: str, *, status: int = 500, error: str = "InternalServerError", message: str = "Internal Server Error",
        headers: dict[str, str] | None = None, times: int = 1,
    ) -> None:  # fmt: skip
        self.faults.append(Fault(nsid, status, error, message, dict(headers or {}), times))

    def expire_tokens(self) -> None:
        """The server ends every access token now (the refresh tokens still work)."""
        self._access.clear()

    def count(self, nsid: str | None = None) -> int:
        return sum(1 for r in self.requests if nsid is None or r.nsid == nsid)

    def replies_by_brand(self, uri: str) -> list[dict[str, Any]]:
        return [
            p for p in self.posts.values()
            if p["author"]["did"] == self.brand[0] and p["record"].get("reply", {}).get("parent", {}).get("uri") == uri
        ]  # fmt: skip

    # --- serving ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        nsid = split.path.removeprefix("/xrpc/")
        params = parse_qs(split.query)
        body: dict[str, Any] = {}
        if method == "POST":
            raw = body_of(handler)
            body = json.loads(raw) if raw else {}
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            self.requests.append(Recorded(method, nsid, params))
            headers = {"RateLimit-Limit": "3000", "RateLimit-Remaining": str(self.remaining),
                       "RateLimit-Reset": str(int(self.reset.timestamp())), "RateLimit-Policy": "3000;w=300"}  # fmt: skip
            fault = next((f for f in self.faults if f.times > 0 and f.nsid == nsid), None)
            if fault is not None:
                fault.times -= 1
                status, answer = fault.status, {"error": fault.error, "message": fault.message}
                headers |= fault.headers
            else:
                status, answer = self._answer(method, nsid, params, body, token)
            delay = self.write_delay if method == "POST" and nsid == "com.atproto.repo.createRecord" else 0.0
            if delay:
                self.write_delay = 0.0
        if delay:
            time.sleep(delay)  # the record is written; the answer comes too late
        send_json(handler, status, answer, headers)

    def _session(self) -> dict[str, Any]:
        now = time.time()
        access = jwt({"scope": "com.atproto.appPass", "sub": self.brand[0], "iat": int(now),
                      "exp": int(now + self.access_ttl), "jti": str(next(self._ids))})  # fmt: skip
        refresh = jwt({"scope": "com.atproto.refresh", "sub": self.brand[0], "iat": int(now),
                       "exp": int(now + 90 * 86400), "jti": str(next(self._ids))})  # fmt: skip
        self._access.add(access)
        self._refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "handle": self.brand[1], "did": self.brand[0],
                "active": True}  # fmt: skip

    def _answer(
        self, method: str, nsid: str, params: dict[str, list[str]], body: dict[str, Any], token: str
    ) -> tuple[int, dict[str, Any]]:
        if nsid == "com.atproto.server.createSession":
            if body.get("identifier") != self.brand[1] or body.get("password") != self.password:
                return 401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            self.logins += 1
            return 200, self._session()
        if nsid == "com.atproto.server.refreshSession":
            if token not in self._refresh:
                return 400, {"error": "ExpiredToken", "message": "Token has been revoked"}
            self._refresh.discard(token)
            self.refreshes += 1
            return 200, self._session()
        if token not in self._access:
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}
        one = {k: v[-1] for k, v in params.items()}
        if nsid == "app.bsky.notification.listNotifications":
            reasons = set(params.get("reasons") or ["mention", "reply", "quote", "like", "follow"])
            rows = [n for n in self._notifications() if n["reason"] in reasons]
            return 200, self._page(rows, one, "notifications")
        if nsid == "app.bsky.feed.searchPosts":
            since = datetime.fromisoformat(one["since"].replace("Z", "+00:00")) if one.get("since") else None
            rows = [self._view(p) for p in self._live() if one["q"].casefold() in p["record"].get("text", "").casefold()
                    and (since is None or p["at"] >= since)
                    and (not one.get("lang") or one["lang"] in p["record"]["langs"])]  # fmt: skip
            return 200, self._page(rows, one, "posts")
        if nsid == "app.bsky.feed.getPostThread":
            post = self.posts.get(one["uri"])
            if post is None or post.get("deleted"):
                return 400, {"error": "NotFound", "message": f"Post not found: {one['uri']}"}
            replies = [{"$type": "app.bsky.feed.defs#threadViewPost", "post": self._view(p), "replies": []}
                       for p in self._live() if p["record"].get("reply", {}).get("parent", {}).get("uri") == one["uri"]]  # fmt: skip
            return 200, {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": self._view(post),
                                    "replies": replies}}  # fmt: skip
        if nsid == "com.atproto.repo.createRecord":
            record = body["record"]
            parent = record.get("reply", {}).get("parent", {}).get("uri")
            if parent and (parent not in self.posts or self.posts[parent].get("deleted")):
                return 400, {"error": "InvalidRequest", "message": "Could not locate record: " + parent}
            at = max((p["at"] for p in self.posts.values()), default=T0) + timedelta(seconds=1)
            uri = self.add_post(
                record["text"], at, by=self.brand, reply_to=parent, langs=tuple(record.get("langs", []))
            )
            return 200, {"uri": uri, "cid": self.posts[uri]["cid"], "validationStatus": "valid"}
        return 501, {"error": "MethodNotImplemented", "message": f"Method Not Implemented: {nsid}"}

    def _live(self) -> list[dict[str, Any]]:
        return sorted((p for p in self.posts.values() if not p.get("deleted")), key=lambda p: p["at"], reverse=True)

    def _view(self, post: dict[str, Any]) -> dict[str, Any]:
        replies = sum(
            1 for p in self._live() if p["record"].get("reply", {}).get("parent", {}).get("uri") == post["uri"]
        )
        view = {k: v for k, v in post.items() if k not in ("at", "deleted")}
        return view | {"replyCount": replies, "repostCount": 0, "likeCount": 1, "quoteCount": 0, "labels": []}

    def _notifications(self) -> list[dict[str, Any]]:
        out = []
        for post in self._live():
            if post["author"]["did"] == self.brand[0]:
                continue
            parent = post["record"].get("reply", {}).get("parent", {}).get("uri")
            if parent and self.posts[parent]["author"]["did"] == self.brand[0]:
                reason, subject = "reply", parent
            elif f"@{self.brand[1]}" in post["record"].get("text", f"@{self.brand[1]}"):
                reason, subject = "mention", None
            else:
                continue
            note = {k: post[k] for k in ("uri", "cid", "author", "record", "indexedAt")}
            out.append(note | {"reason": reason, "reasonSubject": subject, "isRead": False, "labels": []})
        return out

    @staticmethod
    def _page(rows: list[dict[str, Any]], params: dict[str, str], key: str) -> dict[str, Any]:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 50)
        chunk = rows[start : start + limit]
        body: dict[str, Any] = {key: chunk}
        if start + limit < len(rows):
            body["cursor"] = str(start + limit)
        return body
