"""A fake Mastodon instance on 127.0.0.1 for the real Mastodon.py to talk to.

It speaks the API's shapes: statuses with HTML `content`, notifications of type
mention, hashtag timelines, /api/v2/search (statuses only when `full_text_search`,
as an instance with Elasticsearch; without it, none, as Mastodon answers), `min_id`
paging (the page just above the id, newest first) with a Link header, the v2
instance's `configuration.statuses.max_characters`, status posting with
Idempotency-Key, /context, and X-RateLimit-* headers. Tests seed statuses, inject
faults (`fail`, `delay_next_post`) and read `requests`.
"""

from __future__ import annotations

import json
import re
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
DOMAIN = "social.example"
BRAND = ("1", "lumo")


_MENTION = re.compile(r"(@[\w.-]+)@[\w.-]+\.\w+")
_URL = re.compile(r"https?://\S+")


def html(text: str) -> str:
    """Status text as Mastodon renders it: paragraphs, and a mention as @user in a link."""
    linked = re.sub(
        r"@([\w.-]+)(@[\w.-]+\.\w+)?",
        lambda m: (
            f'<span class="h-card"><a href="https://{DOMAIN}/@'
            f'{m.group(1)}" class="u-url mention">@<span>{m.group(1)}</span></a></span>'
        ),
        text,
    )
    return "<p>" + linked.replace("\n", "<br />") + "</p>"


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, list[str]]


@dataclass
class Fault:
    path: str
    status: int
    error: str
    times: int
    headers: dict[str, str]


@dataclass
class FakeMastodon(LoopbackFake):
    token: str = "mastodon-token"
    brand: tuple[str, str] = BRAND
    max_characters: int = 500
    full_text_search: bool = True
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    remaining: int = 299
    reset: datetime = T0 + timedelta(minutes=5)
    post_delay: float = 0.0
    idempotent: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> status id
    malformed: set[str] = field(default_factory=set)  # statuses served without their content
    _ids: Any = field(default_factory=lambda: count(110000000000000001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- seeding and faults -----------------------------------------------------------
    def add_status(
        self, text: str, at: datetime, *, by: tuple[str, str], reply_to: str | None = None, tags: tuple[str, ...] = (),
        language: str = "en", visibility: str = "public",
    ) -> str:  # fmt: skip
        status_id = str(next(self._ids))
        self.statuses[status_id] = {"id": status_id, "text": text, "at": at, "by": by, "reply_to": reply_to,
                                    "tags": tags, "language": language, "visibility": visibility}  # fmt: skip
        return status_id

    def delete(self, status_id: str) -> None:
        self.statuses[status_id]["deleted"] = True

    def fail(self, path: str, *, status: int = 500, error: str = "Internal Server Error", times: int = 1,
             headers: dict[str, str] | None = None) -> None:  # fmt: skip
        self.faults.append(Fault(path, status, error, times, dict(headers or {})))

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    def replies_by_brand(self, status_id: str) -> list[dict[str, Any]]:
        return [s for s in self._live() if s["reply_to"] == status_id and s["by"] == self.brand]

    # --- serving ----------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)._replace(path=urlsplit(handler.path).path.rstrip("/"))
        params = parse_qs(split.query)
        if method == "POST":
            raw = body_of(handler).decode()
            kind = handler.headers.get("Content-Type") or ""
            params |= {k: [v] for k, v in json.loads(raw).items()} if "json" in kind else parse_qs(raw)
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            self.requests.append(Recorded(method, split.path, params))
            headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(self.remaining),
                       "X-RateLimit-Reset": self.reset.isoformat().replace("+00:00", ".000Z")}  # fmt: skip
            fault = next((f for f in self.faults if f.times > 0 and f.path == split.path), None)
            if fault is not None:
                fault.times -= 1
                status, answer = fault.status, {"error": fault.error}
                headers |= fault.headers
            elif token != self.token:
                status, answer = 401, {"error": "The access token is invalid"}
            else:
                one = {k: v[-1] for k, v in params.items()}
                status, answer, extra = self._answer(method, split.path, params, one,
                                                     handler.headers.get("Idempotency-Key"))  # fmt: skip
                headers |= extra
            delay = self.post_delay if method == "POST" else 0.0
            if delay:
                self.post_delay = 0.0
        if delay:
            time.sleep(delay)  # the status is posted; the answer comes too late
        send_json(handler, status, answer, headers)

    def _answer(self, method: str, path: str, params: dict[str, list[str]], one: dict[str, str],
                key: str | None) -> tuple[int, Any, dict[str, str]]:  # fmt: skip
        if path == "/api/v1/accounts/verify_credentials":
            own = sum(1 for s in self._live() if s["by"] == self.brand)
            return 200, self._account(self.brand) | {"statuses_count": own, "source": {"privacy": "public"}}, {}
        if path == "/api/v2/instance":
            return 200, {"domain": DOMAIN, "title": "Social", "version": "4.3.2",
                         "configuration": {"statuses": {"max_characters": self.max_characters,
                                                        "max_media_attachments": 4,
                                                        "characters_reserved_per_url": 23}}}, {}  # fmt: skip
        if path == "/api/v1/notifications":
            rows = [s for s in self._live() if s["by"] != self.brand and f"@{self.brand[1]}" in s["text"]]
            notes = [{"id": s["id"], "type": "mention", "created_at": stamp(s["at"]), "account": self._account(s["by"]),
                      "status": self._status(s)} for s in rows]  # fmt: skip
            return self._page(notes, one, path)
        if path.startswith("/api/v1/timelines/tag/"):
            tag = path.rsplit("/", 1)[-1].casefold()
            return self._page([self._status(s) for s in self._live() if tag in s["tags"]], one, path)
        if path == "/api/v2/search":
            term = one["q"].casefold()
            rows = []
            if self.full_text_search:
                rows = [self._status(s) for s in self._live()
                        if (term == "from:me" and s["by"] == self.brand) or term in s["text"].casefold()]  # fmt: skip
            status, page, headers = self._page(rows, one, path)
            return status, {"accounts": [], "statuses": page, "hashtags": []}, {}
        if path.startswith("/api/v1/statuses/") and path.endswith("/context"):
            target = self.statuses.get(path.split("/")[4])
            if target is None or target.get("deleted"):
                return 404, {"error": "Record not found"}, {}
            return 200, {"ancestors": [], "descendants": [self._status(s) for s in reversed(self._live())
                                                          if s["reply_to"] == target["id"]]}, {}  # fmt: skip
        if path == "/api/v1/statuses" and method == "POST":
            if key and key in self.idempotent:
                return 200, self._status(self.statuses[self.idempotent[key]]), {}
            parent = self.statuses.get(one.get("in_reply_to_id", ""))
            if one.get("in_reply_to_id") and (parent is None or parent.get("deleted")):
                return 404, {"error": "Record not found"}, {}
            text = one["status"]
            if len(_MENTION.sub(r"\1", _URL.sub("x" * 23, text))) > self.max_characters:
                return 422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"}, {}
            at = max((s["at"] for s in self.statuses.values()), default=T0) + timedelta(seconds=1)
            made = self.add_status(text, at, by=self.brand, reply_to=one.get("in_reply_to_id"),
                                   visibility=one.get("visibility", "public"), language=one.get("language", "en"))  # fmt: skip
            if key:
                self.idempotent[key] = made
            return 200, self._status(self.statuses[made]), {}
        return 404, {"error": "Record not found"}, {}

    def _live(self) -> list[dict[str, Any]]:
        return sorted((s for s in self.statuses.values() if not s.get("deleted")), key=lambda s: int(s["id"]),
                      reverse=True)  # fmt: skip

    def _account(self, who: tuple[str, str]) -> dict[str, Any]:
        acct = who[1] if who == self.brand else f"{who[1]}@other.example"
        return {"id": who[0], "username": who[1], "acct": acct, "display_name": who[1].title(),
                "followers_count": 12, "url": f"https://{DOMAIN}/@{acct}"}  # fmt: skip

    def _status(self, s: dict[str, Any]) -> dict[str, Any]:
        parent = self.statuses.get(s["reply_to"] or "")
        return {"id": s["id"], "created_at": stamp(s["at"]), "in_reply_to_id": s["reply_to"],
                "in_reply_to_account_id": parent["by"][0] if parent else None, "sensitive": False,
                "spoiler_text": "", "visibility": s["visibility"], "language": s["language"],
                "uri": f"https://{DOMAIN}/users/{s['by'][1]}/statuses/{s['id']}",
                "url": f"https://{DOMAIN}/@{s['by'][1]}/{s['id']}", "replies_count": 0, "reblogs_count": 0,
                "favourites_count": 1, "content": html(s["text"]),
                "reblog": None, "account": self._account(s["by"]), "media_attachments": [], "mentions": [],
                "tags": [{"name": t} for t in s["tags"]], "emojis": []} | ({"content": None} if s["id"] in self.malformed else {})  # fmt: skip

    def _page(self, rows: list[dict[str, Any]], one: dict[str, str], path: str) -> tuple[int, Any, dict[str, str]]:
        """Newest first; with min_id, the `limit` just above it (Mastodon's min_id)."""
        limit = int(one.get("limit") or 20)
        if one.get("min_id"):
            above = [r for r in rows if int(r["id"]) > int(one["min_id"])]
            page = above[-limit:]
        else:
            page = rows[:limit]
        headers = {}
        if page:
            base = f"{self.base_url}{path}"
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", <{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return 200, page, headers
