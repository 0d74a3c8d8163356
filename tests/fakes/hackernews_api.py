"""A fake Hacker News Algolia search API on 127.0.0.1 for the connector's httpx client.

It answers /api/v1/search_by_date as Algolia does: `hits` newest first with
`objectID`, `created_at`, `created_at_i`, `author`, `_tags`, stories' `title`/`url`
and comments' HTML `comment_text`, `parent_id`, `story_id`, `story_title`; `page`
and `nbPages`; `tags` (`(story,comment)`, `comment,author_X,story_Y`) and
`numericFilters=created_at_i>=N`. Tests seed items, inject `fail` and read `requests`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackFake, send_json

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Fault:
    status: int
    times: int
    headers: dict[str, str]
    query: str  # only for this search term ("" for any request)


@dataclass
class FakeAlgolia(LoopbackFake):
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: count(42000001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_story(self, title: str, at: datetime, *, by: str, url: str = "", text: str = "") -> str:
        item = str(next(self._ids))
        self.items[item] = {"objectID": item, "title": title, "url": url or None, "story_text": text or None,
                            "author": by, "at": at, "points": 12, "num_comments": 0, "kind": "story"}  # fmt: skip
        return item

    def add_comment(self, text: str, at: datetime, *, by: str, parent: str) -> str:
        item = str(next(self._ids))
        above = self.items[parent]
        story = above.get("story_id") or parent
        self.items[item] = {"objectID": item, "comment_text": text, "author": by, "at": at, "parent_id": int(parent),
                            "story_id": int(story), "story_title": self.items[str(story)]["title"],
                            "kind": "comment"}  # fmt: skip
        return item

    def fail(
        self, *, status: int = 500, times: int = 1, headers: dict[str, str] | None = None, query: str = ""
    ) -> None:
        self.faults.append(Fault(status, times, dict(headers or {}), query))

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        with self._lock:
            self.requests.append(params)
            fault = next((f for f in self.faults if f.times > 0 and f.query in ("", params.get("query"))), None)
            if fault is not None:
                fault.times -= 1
                send_json(handler, fault.status, {"message": "error", "status": fault.status}, fault.headers)
                return
            if split.path != "/api/v1/search_by_date":
                send_json(handler, 404, {"message": "Not Found", "status": 404})
                return
            body = self._search(params)
        send_json(handler, 200, body)

    def _search(self, params: dict[str, str]) -> dict[str, Any]:
        query = params.get("query", "").casefold()
        since = int(params.get("numericFilters", "created_at_i>=0").split(">=")[1])
        tags = params.get("tags", "(story,comment)")
        rows = []
        for item in sorted(self.items.values(), key=lambda i: i["at"], reverse=True):
            text = f"{item.get('title') or ''} {item.get('story_text') or ''} {item.get('comment_text') or ''}"
            if query and query not in text.casefold() or int(item["at"].timestamp()) < since:
                continue
            if tags.startswith("comment,"):
                _, author, story = tags.split(",")
                if (
                    item["kind"] != "comment"
                    or f"author_{item['author']}" != author
                    or f"story_{item['story_id']}" != story
                ):
                    continue
            elif item["kind"] not in tags:
                continue
            rows.append(self._hit(item))
        size, page = int(params.get("hitsPerPage", "20")), int(params.get("page", "0"))
        pages = max(1, -(-len(rows) // size))
        return {"hits": rows[page * size : (page + 1) * size], "nbHits": len(rows), "page": page, "nbPages": pages,
                "hitsPerPage": size, "processingTimeMS": 1, "query": params.get("query", ""), "params": ""}  # fmt: skip

    @staticmethod
    def _hit(item: dict[str, Any]) -> dict[str, Any]:
        hit = {k: v for k, v in item.items() if k not in ("at", "kind")}
        tags = [item["kind"], f"author_{item['author']}", f"story_{item.get('story_id') or item['objectID']}"]
        return hit | {"created_at": item["at"].strftime("%Y-%m-%dT%H:%M:%SZ"), "created_at_i": int(item["at"].timestamp()),
                      "_tags": tags}  # fmt: skip
