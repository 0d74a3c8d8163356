"""A fake Google Play Developer API (androidpublisher v3 reviews) and Google's OAuth
token endpoint on 127.0.0.1, for the real google-api-python-client to talk to.

It speaks Play's shapes: `reviews.list` newest change first, paged with
`tokenPagination.nextPageToken`, only reviews whose text changed in the last 7 days;
a review as `reviewId`, `authorName` and `comments` holding one `userComment`
(`starRating`, `text`, `lastModified` as {seconds, nanos}, `appVersionName`,
`reviewerLanguage`) and the `developerComment` once answered; `reviews.reply` that
replaces the developer's answer and returns `result.lastEdited`; Google's error
object (`error.code`, `message`, `status`, `errors[].reason`). The token endpoint
takes a service account's signed JWT and answers an access token, or `invalid_grant`
when the key is `revoked`. Tests inject faults (`fail_next`), slow the next reply
down (`reply_delay`) and read `requests`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from itertools import count
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.loopback import LoopbackFake, body_of, send_json

PACKAGE = "com.lumo.bank"
TOKEN = "ya29.fake-play-token"
WINDOW = timedelta(days=7)  # Play lists only reviews whose text changed in the last week
PREFIX = f"/androidpublisher/v3/applications/{PACKAGE}/reviews"


def timestamp(moment: datetime) -> dict[str, Any]:
    return {"seconds": str(int(moment.timestamp())), "nanos": 0}


@dataclass
class Fault:
    path: str
    status: int
    reason: str
    retry_after: str | None


@dataclass
class FakePlay(LoopbackFake):
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    page_size: int = 100  # the most one page holds, whatever maxResults asks
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, datetime] = field(default_factory=dict)  # review id -> its last edit (the listing's order)
    requests: list[str] = field(default_factory=list)  # "GET /path" for every API call
    tokens_issued: int = 0
    revoked: bool = False  # the service account's key was deleted: every token request fails
    replies_posted: dict[str, int] = field(default_factory=dict)  # review id -> reply calls that took effect
    reply_delay: float = 0.0  # seconds the next reply waits after taking effect, before answering
    faults: list[Fault] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: count(1))

    # --- life -----------------------------------------------------------------------
    # --- seeding ----------------------------------------------------------------------
    def add_review(
        self,
        text: str,
        stars: int,
        at: datetime,
        *,
        author: str = "Ana Pop",
        version: str = "4.2.0",
        language: str = "en",
        review_id: str | None = None,
    ) -> str:
        review_id = review_id or f"gp:AOqpTO{next(self._ids):04d}"
        comment = {"text": text, "starRating": stars, "lastModified": timestamp(at), "appVersionName": version,
                   "appVersionCode": 4200, "reviewerLanguage": language, "device": "a52q", "androidOsVersion": 34,
                   "thumbsUpCount": 0, "thumbsDownCount": 0}  # fmt: skip
        self.reviews[review_id] = {"reviewId": review_id, "authorName": author, "comments": [{"userComment": comment}]}
        self.changed[review_id] = at
        return review_id

    def edit_review(self, review_id: str, text: str, stars: int, at: datetime) -> None:
        """The customer rewrites the review: same id, new text, stars and time."""
        comment = self.reviews[review_id]["comments"][0]["userComment"]
        comment.update(text=text, starRating=stars, lastModified=timestamp(at))
        self.changed[review_id] = at

    def answer(self, review_id: str, text: str, at: datetime) -> None:
        """The brand answers in the Play Console."""
        comments = self.reviews[review_id]["comments"]
        comments[1:] = [{"developerComment": {"text": text, "lastModified": timestamp(at)}}]

    def fail_next(self, path: str, status: int, *, reason: str = "", retry_after: str | None = None) -> None:
        self.faults.append(Fault(path, status, reason, retry_after))

    # --- serving ------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        parts = parts._replace(path=unquote(parts.path))
        body = body_of(handler)
        if parts.path == "/token":
            self._token(handler, body)
            return
        self.requests.append(f"{method} {parts.path}")
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._error(handler, 401, "Request had invalid authentication credentials.", "authError")
            return
        for fault in self.faults:
            if fault.path in parts.path:
                self.faults.remove(fault)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._error(handler, fault.status, "injected", fault.reason, headers)
                return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and parts.path == PREFIX:
            self._list(handler, query)
        elif method == "GET" and parts.path.startswith(PREFIX + "/"):
            review = self.reviews.get(parts.path[len(PREFIX) + 1 :])
            if review is None:
                self._error(handler, 404, "Review not found.", "notFound")
            else:
                send_json(handler, 200, review)
        elif method == "POST" and parts.path.startswith(PREFIX + "/") and parts.path.endswith(":reply"):
            self._reply(handler, parts.path[len(PREFIX) + 1 : -len(":reply")], json.loads(body or b"{}"))
        else:
            self._error(handler, 404, "Not found", "notFound")

    def _token(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if self.revoked or form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            send_json(handler, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            return
        self.tokens_issued += 1
        send_json(handler, 200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})

    def _visible(self) -> list[dict[str, Any]]:
        since = self.clock() - WINDOW
        listed = [key for key, at in self.changed.items() if at >= since]
        return [self.reviews[key] for key in sorted(listed, key=self.changed.__getitem__, reverse=True)]

    def _list(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        listed = self._visible()
        start = int(query.get("token") or 0)
        size = min(self.page_size, int(query.get("maxResults") or 100))
        page = listed[start : start + size]
        answer: dict[str, Any] = {"pageInfo": {"totalResults": len(listed), "resultPerPage": size}, "reviews": page}
        if start + size < len(listed):
            answer["tokenPagination"] = {"nextPageToken": str(start + size)}
        send_json(handler, 200, answer)

    def _reply(self, handler: BaseHTTPRequestHandler, review_id: str, body: dict[str, Any]) -> None:
        review = self.reviews.get(review_id)
        text = str(body.get("replyText") or "")
        if review is None:
            self._error(handler, 404, "Review not found.", "notFound")
            return
        if not text or len(text) > 350:
            self._error(handler, 400, "Reply text must be 1 to 350 characters.", "invalid")
            return
        now = self.clock()
        self.answer(review_id, text, now)
        self.replies_posted[review_id] = self.replies_posted.get(review_id, 0) + 1
        delay, self.reply_delay = self.reply_delay, 0.0
        if delay:
            time.sleep(delay)
        send_json(handler, 200, {"result": {"replyText": text, "lastEdited": timestamp(now)}})

    def _error(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        message: str,
        reason: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"code": status, "message": message, "status": {429: "RESOURCE_EXHAUSTED"}.get(status, "ERROR"),
                 "errors": [{"reason": reason, "message": message, "domain": "androidpublisher"}]}  # fmt: skip
        send_json(handler, status, {"error": error}, headers or {})
