"""A fake Meta Graph API on 127.0.0.1 for the real httpx client to talk to.

It speaks the shapes Graph does: lists as `data` with `paging.cursors.before/after`
and `paging.next` (only when there is more), Facebook comments flat with `parent`
under `filter=stream` (newest first with `order=reverse_chronological`), Instagram
comments with their `replies` nested, `?ids=` lookups answered as an object keyed by
id (refused whole when one id is unknown), error objects with `message`, `type`,
`code`, `error_subcode` and `fbtrace_id`, and the X-App-Usage and
X-Business-Use-Case-Usage headers. A Page post's `updated_time` moves with its
newest comment; a media's `comments_count` counts its comments and replies.
Tests inject faults (`fail`, `delay_next_post`), set `usage`, and read `requests`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

VERSION = "v23.0"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """Graph's time format: 2026-11-20T12:00:00+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class Fault:
    status: int
    code: int | None
    subcode: int | None
    message: str
    times: int
    path: str  # answers requests whose path contains this
    method: str
    headers: dict[str, str]


@dataclass
class FakeGraph:
    token: str = "page-token"
    app_token: str = "app|secret"
    page_id: str = "1000"
    page_name: str = "Lumo"
    ig_id: str = "17841400000000001"
    ig_username: str = "lumo.bank"
    scopes: tuple[str, ...] = ("pages_read_engagement", "pages_read_user_engagement", "pages_manage_engagement",
                               "pages_show_list", "instagram_business_basic", "instagram_business_manage_comments")  # fmt: skip
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # every node by id
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    usage: dict[str, str] = field(default_factory=dict)  # headers sent with every answer
    expired: bool = False
    post_delay: float = 0.0
    _ids: Any = field(default_factory=lambda: count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    # --- life -----------------------------------------------------------------------
    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- seeding ----------------------------------------------------------------------
    def new_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def add_page_post(self, message: str, at: datetime, *, by: tuple[str, str] | None = None) -> str:
        post_id = f"{self.page_id}_{self.new_id('9')}"
        who = by or (self.page_id, self.page_name)
        self.objects[post_id] = {"kind": "fb_post", "id": post_id, "message": message, "created_time": at,
                                 "from": {"id": who[0], "name": who[1]}, "edge": "feed"}  # fmt: skip
        return post_id

    def add_tagged(self, message: str, at: datetime, *, by: tuple[str, str]) -> str:
        post_id = f"{by[0]}_{self.new_id('8')}"
        self.objects[post_id] = {"kind": "fb_post", "id": post_id, "message": message, "created_time": at,
                                 "from": {"id": by[0], "name": by[1]}, "edge": "tagged"}  # fmt: skip
        return post_id

    def add_rating(self, text: str, at: datetime, *, by: tuple[str, str], positive: bool = True) -> str:
        story = self.new_id("7")
        self.objects[story] = {"kind": "rating", "id": story, "review_text": text, "created_time": at,
                               "recommendation_type": "positive" if positive else "negative",
                               "reviewer": {"id": by[0], "name": by[1]}}  # fmt: skip
        return story

    def add_comment(
        self, on: str, message: str, at: datetime, *, by: tuple[str, str], parent: str | None = None,
        hidden: bool = False,
    ) -> str:  # fmt: skip
        """A Facebook comment on post `on` (a reply when `parent` is a comment)."""
        comment_id = f"{on.split('_')[-1]}_{self.new_id('5')}"
        self.objects[comment_id] = {"kind": "fb_comment", "id": comment_id, "message": message, "created_time": at,
                                    "from": {"id": by[0], "name": by[1]}, "post": on, "parent": parent,
                                    "is_hidden": hidden}  # fmt: skip
        return comment_id

    def add_media(self, caption: str, at: datetime, *, owner: str | None = None, tagged: bool = False) -> str:
        media_id = self.new_id("1790")
        self.objects[media_id] = {"kind": "ig_media", "id": media_id, "caption": caption, "timestamp": at,
                                  "username": owner or self.ig_username, "tagged": tagged,
                                  "permalink": f"https://www.instagram.com/p/{media_id}/"}  # fmt: skip
        return media_id

    def add_ig_comment(
        self, media: str, text: str, at: datetime, *, by: tuple[str, str], parent: str | None = None,
        hidden: bool = False,
    ) -> str:  # fmt: skip
        comment_id = self.new_id("1780")
        self.objects[comment_id] = {"kind": "ig_comment", "id": comment_id, "text": text, "timestamp": at,
                                    "from": {"id": by[0], "username": by[1]}, "username": by[1], "media": media,
                                    "parent_id": parent, "hidden": hidden}  # fmt: skip
        return comment_id

    def delete(self, object_id: str) -> None:
        self.objects[object_id]["deleted"] = True

    def fail(
        self, path: str, *, status: int = 400, code: int | None = None, subcode: int | None = None,
        message: str = "An error", times: int = 1, method: str = "GET", headers: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.faults.append(Fault(status, code, subcode, message, times, path, method, dict(headers or {})))

    def delay_next_post(self, seconds: float) -> None:
        self.post_delay = seconds

    def count(self, method: str | None = None) -> int:
        return sum(1 for r in self.requests if method is None or r.method == method)

    def replies_to(self, target: str) -> list[dict[str, Any]]:
        """What the brand posted under `target` (a Facebook comment or an Instagram one)."""
        return [o for o in self.objects.values() if o.get("parent") == target or o.get("parent_id") == target]

    # --- serving ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            params |= {k: v[-1] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        path = split.path.removeprefix(f"/{VERSION}").strip("/")
        with self._lock:
            self.requests.append(Recorded(method, path, params))
            token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
            status, body = self._answer(method, path, params, token)
            headers = dict(self.usage)
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and fault.path in path:
                    fault.times -= 1
                    status, body = fault.status, _error(fault.code, fault.subcode, fault.message)
                    headers |= fault.headers
                    break
            delay, self.post_delay = (self.post_delay, 0.0) if method == "POST" else (0.0, self.post_delay)
        if delay:
            time.sleep(delay)  # the write is done; the answer comes too late
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        with contextlib.suppress(OSError):  # the client gave up waiting
            handler.wfile.write(data)

    def _answer(self, method: str, path: str, params: dict[str, str], token: str) -> tuple[int, dict[str, Any]]:
        if path == "debug_token":
            if token != self.app_token:
                return 400, _error(190, None, "Invalid OAuth access token - Cannot parse access token")
            valid = params.get("input_token") == self.token and not self.expired
            return 200, {"data": {"is_valid": valid, "scopes": list(self.scopes), "expires_at": 0}}
        if token != self.token:
            return 400, _error(190, None, "Invalid OAuth access token - Cannot parse access token")
        if self.expired:
            return 400, _error(190, 463, "Error validating access token: Session has expired")
        if method == "POST":
            return self._post(path, params)
        if path == "me":
            return 200, {"id": self.page_id, "name": self.page_name}
        if path == "":
            found = {}
            for object_id in params.get("ids", "").split(","):
                node = self._node(object_id)
                if node is None:
                    return 400, _error(100, 33, f"Unsupported get request. Object with ID '{object_id}' does not exist")
                found[object_id] = node
            return 200, found
        head, _, edge = path.partition("/")
        if not edge:
            node = self._node(head) or self._owner(head)
            if node is None:
                return 400, _error(100, 33, f"Unsupported get request. Object with ID '{head}' does not exist")
            return 200, node
        return self._edge(head, edge, params)

    def _owner(self, object_id: str) -> dict[str, Any] | None:
        if object_id == self.page_id:
            return {"id": self.page_id, "name": self.page_name, "instagram_business_account": {"id": self.ig_id}}
        if object_id == self.ig_id:
            return {"id": self.ig_id, "username": self.ig_username}
        return None

    def _live(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o["kind"] == kind and not o.get("deleted")]

    def _node(self, object_id: str) -> dict[str, Any] | None:
        raw = self.objects.get(object_id)
        if raw is None or raw.get("deleted"):
            return None
        if raw["kind"] == "fb_post":
            newest = max([raw["created_time"], *(c["created_time"] for c in self._comments_of(object_id))])
            return {"id": object_id, "message": raw["message"], "created_time": stamp(raw["created_time"]),
                    "updated_time": stamp(newest), "from": raw["from"],
                    "permalink_url": f"https://www.facebook.com/{object_id}"}  # fmt: skip
        if raw["kind"] == "fb_comment":
            out = {"id": object_id, "message": raw["message"], "created_time": stamp(raw["created_time"]),
                   "from": raw["from"], "is_hidden": raw["is_hidden"], "like_count": 0,
                   "comment_count": len([c for c in self._comments_of(raw["post"]) if c["parent"] == object_id]),
                   "permalink_url": f"https://www.facebook.com/{raw['post']}?comment_id={object_id}"}  # fmt: skip
            if raw["parent"]:
                out["parent"] = {"id": raw["parent"]}
            return out
        if raw["kind"] == "rating":
            return {"created_time": stamp(raw["created_time"]), "recommendation_type": raw["recommendation_type"],
                    "review_text": raw["review_text"], "reviewer": raw["reviewer"],
                    "open_graph_story": {"id": object_id}}  # fmt: skip
        if raw["kind"] == "ig_media":
            comments = [c for c in self._live("ig_comment") if c["media"] == object_id]
            return {"id": object_id, "caption": raw["caption"], "timestamp": stamp(raw["timestamp"]),
                    "permalink": raw["permalink"], "username": raw["username"], "comments_count": len(comments),
                    "like_count": 3}  # fmt: skip
        out = {"id": object_id, "text": raw["text"], "timestamp": stamp(raw["timestamp"]), "from": raw["from"],
               "username": raw["username"], "hidden": raw["hidden"], "like_count": 0}  # fmt: skip
        if raw["parent_id"]:
            out["parent_id"] = raw["parent_id"]
        return out

    def _comments_of(self, post_id: str) -> list[dict[str, Any]]:
        return [c for c in self._live("fb_comment") if c["post"] == post_id]

    def _edge(self, head: str, edge: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if head == self.page_id and edge in ("feed", "tagged"):
            rows = sorted((o for o in self._live("fb_post") if o["edge"] == edge), key=lambda o: o["created_time"])
            return 200, self._page([self._node(o["id"]) for o in reversed(rows)], params)
        if head == self.page_id and edge == "ratings":
            rows = sorted(self._live("rating"), key=lambda o: o["created_time"], reverse=True)
            return 200, self._page([self._node(o["id"]) for o in rows], params)
        if head == self.ig_id and edge in ("media", "tags"):
            rows = sorted((o for o in self._live("ig_media") if o["tagged"] == (edge == "tags")),
                          key=lambda o: o["timestamp"], reverse=True)  # fmt: skip
            return 200, self._page([self._node(o["id"]) for o in rows], params)
        target = self.objects.get(head)
        if target is None or target.get("deleted"):
            return 400, _error(100, 33, f"Unsupported get request. Object with ID '{head}' does not exist")
        if target["kind"] in ("fb_post", "fb_comment", "rating") and edge == "comments":
            if target["kind"] == "fb_post":
                rows = [c for c in self._comments_of(head) if params.get("filter") == "stream" or not c["parent"]]
            else:
                rows = [c for c in self._live("fb_comment") if c["parent"] == head or c.get("post") == head]
            rows.sort(key=lambda c: c["created_time"], reverse=params.get("order") == "reverse_chronological")
            return 200, self._page([self._node(c["id"]) for c in rows], params)
        if target["kind"] == "ig_media" and edge == "comments":
            rows = sorted((c for c in self._live("ig_comment") if c["media"] == head and not c["parent_id"]),
                          key=lambda c: c["timestamp"], reverse=True)  # fmt: skip
            nodes = []
            for comment in rows:
                node = self._node(comment["id"]) or {}
                replies = self._ig_replies(comment["id"])
                if replies:
                    node["replies"] = {"data": replies}
                nodes.append(node)
            return 200, self._page(nodes, params)
        if target["kind"] == "ig_comment" and edge == "replies":
            return 200, {"data": self._ig_replies(head)}
        return 400, _error(100, None, f"Tried accessing nonexisting field ({edge})")

    def _ig_replies(self, comment_id: str) -> list[dict[str, Any]]:
        rows = sorted(
            (c for c in self._live("ig_comment") if c["parent_id"] == comment_id), key=lambda c: c["timestamp"]
        )
        return [node for c in rows if (node := self._node(c["id"])) is not None]

    def _page(self, nodes: list[dict[str, Any] | None], params: Mapping[str, str]) -> dict[str, Any]:
        """One page of a list: offsets as opaque cursors, `next` only when more remain."""
        rows = [n for n in nodes if n is not None]
        limit = int(params.get("limit", "25"))
        start = int(params["after"].removeprefix("c")) if params.get("after") else 0
        chunk = rows[start : start + limit]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {"cursors": {"before": f"c{start}", "after": f"c{start + len(chunk)}"}}
            if start + len(chunk) < len(rows):
                body["paging"]["next"] = f"{self.base_url}/{VERSION}/next?after=c{start + len(chunk)}"
        return body

    def _post(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        head, _, edge = path.partition("/")
        target = self.objects.get(head)
        if target is None or target.get("deleted"):
            return 400, _error(100, 33, f"Unsupported post request. Object with ID '{head}' does not exist")
        now = max((o.get("created_time") or o.get("timestamp") or T0 for o in self.objects.values()), default=T0)
        now += timedelta(seconds=1)
        if not edge and "is_hidden" in params and target["kind"] == "fb_comment":
            target["is_hidden"] = params["is_hidden"] == "true"
            return 200, {"success": True}
        if not edge and "hide" in params and target["kind"] == "ig_comment":
            target["hidden"] = params["hide"] == "true"
            return 200, {"success": True}
        if edge == "comments" and target["kind"] in ("fb_comment", "fb_post", "rating"):
            post = target.get("post") or head
            parent = head if target["kind"] == "fb_comment" else None
            if target["kind"] == "rating":
                self.objects.setdefault(head, target)
            reply = self.add_comment(post, params["message"], now, by=(self.page_id, self.page_name), parent=parent)
            return 200, {"id": reply}
        if edge == "replies" and target["kind"] == "ig_comment":
            if target["hidden"]:
                return 400, _error(100, None, "Cannot reply to a hidden comment")
            top = target["parent_id"] or head
            reply = self.add_ig_comment(target["media"], params["message"], now, by=(self.ig_id, self.ig_username),
                                        parent=top)  # fmt: skip
            return 200, {"id": reply}
        return 400, _error(100, None, "Unsupported post request")


def _error(code: int | None, subcode: int | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "fbtrace_id": "AbCdEfGh123"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}
