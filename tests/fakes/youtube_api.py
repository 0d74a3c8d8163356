"""A fake YouTube Data API v3 and Google token endpoint on 127.0.0.1, for the real
google-api-python-client (built from its shipped discovery document) to talk to.

It speaks the shapes the API does: `youtube#commentThreadListResponse` with
`nextPageToken` and `pageInfo`, threads newest first with `totalReplyCount` and at
most five replies included, comments with `textDisplay`, `authorChannelId.value`,
`parentId` and `publishedAt`; Google's error object (`error.code`, `error.message`,
`error.errors[].reason`, e.g. quotaExceeded); the OAuth refresh-token grant. Tests
seed comments, inject faults (`fail`, `delay_next_insert`) and read `requests`.
"""

from __future__ import annotations

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
CHANNEL = ("UCLumoBank00000000000001", "Lumo")
INCLUDED_REPLIES = 5


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class Fault:
    path: str
    method: str
    status: int
    reason: str
    message: str
    times: int
    headers: dict[str, str]


@dataclass
class FakeYouTube(LoopbackFake):
    channel: tuple[str, str] = CHANNEL
    refresh_token: str = "1//refresh-token"
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> stored comment
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    insert_delay: float = 0.0
    _access: set[str] = field(default_factory=set)
    _ids: Any = field(default_factory=lambda: count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- seeding and faults -----------------------------------------------------------
    def add_comment(
        self, video: str, text: str, at: datetime, *, by: tuple[str, str], thread: str | None = None
    ) -> str:
        """A top-level comment on `video` (a thread), or a reply in `thread`."""
        comment_id = f"Ugx{next(self._ids):05d}" + (f".{thread}" if thread else "")
        self.comments[comment_id] = {"id": comment_id, "video": video, "text": text, "at": at, "by": by,
                                     "thread": thread}  # fmt: skip
        return comment_id

    def delete(self, comment_id: str) -> None:
        self.comments[comment_id]["deleted"] = True

    def fail(
        self, path: str, *, status: int = 500, reason: str = "backendError", message: str = "Backend Error",
        times: int = 1, method: str = "GET", headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.faults.append(Fault(path, method, status, reason, message, times, dict(headers or {})))

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    def replies_by_channel(self, thread: str) -> list[dict[str, Any]]:
        return [c for c in self._live() if c["thread"] == thread and c["by"][0] == self.channel[0]]

    # --- serving ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        raw = body_of(handler) if method == "POST" else b""
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            self.requests.append(Recorded(method, split.path, params))
            fault = next((f for f in self.faults if f.times > 0 and f.method == method and f.path == split.path), None)
            headers: dict[str, str] = {}
            if fault is not None:
                fault.times -= 1
                status, answer, headers = fault.status, _error(fault.status, fault.reason, fault.message), fault.headers
            elif split.path == "/token":
                status, answer = self._token({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
            elif token not in self._access:
                status, answer = 401, _error(401, "authError", "Invalid Credentials")
            else:
                status, answer = self._api(method, split.path, params, json.loads(raw) if raw else {})
            delay = self.insert_delay if method == "POST" and split.path.endswith("/comments") else 0.0
            if delay:
                self.insert_delay = 0.0
        if delay:
            time.sleep(delay)  # the reply is posted; the answer comes too late
        send_json(handler, status, answer, headers)

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        access = f"ya29.fake{next(self._ids)}"
        self._access.add(access)
        return 200, {"access_token": access, "expires_in": 3599, "token_type": "Bearer",
                     "scope": "https://www.googleapis.com/auth/youtube.force-ssl"}  # fmt: skip

    def _api(self, method: str, path: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path == "/youtube/v3/commentThreads" and method == "GET":
            if params.get("allThreadsRelatedToChannelId") != self.channel[0]:
                return 404, _error(404, "channelNotFound", "The channel could not be found.")
            threads = [self._thread(c) for c in self._live() if c["thread"] is None]
            return 200, self._page("youtube#commentThreadListResponse", threads, params)
        if path == "/youtube/v3/comments" and method == "GET":
            parent = self.comments.get(params.get("parentId", ""))
            if parent is None or parent.get("deleted"):
                return 404, _error(404, "commentNotFound", "The comment could not be found.")
            replies = [self._comment(c) for c in self._live() if c["thread"] == parent["id"]]
            return 200, self._page("youtube#commentListResponse", list(reversed(replies)), params)
        if path == "/youtube/v3/comments" and method == "POST":
            snippet = body.get("snippet") or {}
            parent = self.comments.get(snippet.get("parentId", ""))
            if parent is None or parent.get("deleted"):
                return 404, _error(404, "parentCommentNotFound", "The parent comment could not be found.")
            at = max((c["at"] for c in self.comments.values()), default=T0) + timedelta(seconds=1)
            reply = self.add_comment(parent["video"], snippet["textOriginal"], at, by=self.channel, thread=parent["id"])
            return 200, self._comment(self.comments[reply])
        return 404, _error(404, "notFound", f"{method} {path} is not served by the fake")

    def _live(self) -> list[dict[str, Any]]:
        return sorted((c for c in self.comments.values() if not c.get("deleted")), key=lambda c: c["at"], reverse=True)

    def _comment(self, c: dict[str, Any]) -> dict[str, Any]:
        snippet = {"channelId": self.channel[0], "videoId": c["video"], "textDisplay": c["text"],
                   "authorDisplayName": f"@{c['by'][1]}", "authorChannelUrl": f"http://www.youtube.com/@{c['by'][1]}",
                   "authorChannelId": {"value": c["by"][0]}, "canRate": True, "viewerRating": "none",
                   "likeCount": 2, "publishedAt": stamp(c["at"]), "updatedAt": stamp(c["at"])}  # fmt: skip
        if c["thread"]:
            snippet["parentId"] = c["thread"]
        return {"kind": "youtube#comment", "etag": f"e{c['id']}", "id": c["id"], "snippet": snippet}

    def _thread(self, top: dict[str, Any]) -> dict[str, Any]:
        replies = [c for c in self._live() if c["thread"] == top["id"]]
        thread: dict[str, Any] = {"kind": "youtube#commentThread", "etag": f"t{top['id']}", "id": top["id"],
                                  "snippet": {"channelId": self.channel[0], "videoId": top["video"],
                                              "topLevelComment": self._comment(top), "canReply": True,
                                              "totalReplyCount": len(replies), "isPublic": True}}  # fmt: skip
        if replies:
            thread["replies"] = {"comments": [self._comment(c) for c in replies[:INCLUDED_REPLIES]]}
        return thread

    @staticmethod
    def _page(kind: str, items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        start = int(params.get("pageToken", "0") or 0)
        size = int(params.get("maxResults", "20"))
        body: dict[str, Any] = {"kind": kind, "etag": "page", "items": items[start : start + size],
                                "pageInfo": {"totalResults": len(items), "resultsPerPage": size}}  # fmt: skip
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body


def _error(code: int, reason: str, message: str) -> dict[str, Any]:
    domain = "youtube.quota" if reason == "quotaExceeded" else "youtube.api"
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}  # fmt: skip
