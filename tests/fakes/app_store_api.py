"""A fake App Store Connect API (customerReviews, customerReviewResponses) on 127.0.0.1
for the real httpx client and PyJWT tokens.

It speaks Apple's shapes: JSON:API documents with `data`, `included` (the review's
response with `include=response`), `links.next` as an absolute URL with a `cursor`,
`sort=-createdDate` and `filter[territory]`; a response created as PENDING_PUBLISH
that replaces the review's earlier one and goes live when a test calls `publish`;
Apple's `errors[]` objects (`status`, `code`, `title`, `detail`). Every request must
carry an ES256 token for the known key id and issuer with audience
appstoreconnect-v1 that verifies with the team's public key, else 401; `revoke`
makes the key refused. Tests inject faults, delay the next reply and read `requests`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from itertools import count
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from tests.fakes.loopback import LoopbackFake, body_of, send_json

APP_ID = "1234567890"
KEY_ID = "ABC123DEFG"
ISSUER = "69a6de7e-0000-47e3-e053-5b8c7c11a4d1"
REVIEWS = f"/v1/apps/{APP_ID}/customerReviews"


def apple_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


@dataclass
class FakeAppStore(LoopbackFake):
    public_key: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    page_size: int = 100
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # review id -> its response resource
    requests: list[str] = field(default_factory=list)
    responses_created: dict[str, int] = field(default_factory=dict)
    revoked: bool = False
    reply_delay: float = 0.0
    faults: list[tuple[str, int, str | None]] = field(default_factory=list)  # (path part, status, Retry-After)
    _ids: Any = field(default_factory=lambda: count(1))

    # --- seeding ----------------------------------------------------------------------
    def add_review(self, title: str, body: str, stars: int, at: datetime, *, nickname: str = "anapop",
                   territory: str = "USA") -> str:  # fmt: skip
        review_id = f"00000{next(self._ids):04d}-ab12-cd34"
        self.reviews[review_id] = {"type": "customerReviews", "id": review_id,
                                   "attributes": {"rating": stars, "title": title, "body": body,
                                                  "reviewerNickname": nickname, "createdDate": apple_time(at),
                                                  "territory": territory}}  # fmt: skip
        self.created[review_id] = at
        return review_id

    def publish(self, review_id: str) -> None:
        self.responses[review_id]["attributes"]["state"] = "PUBLISHED"

    def fail_next(self, path: str, status: int, retry_after: str | None = None) -> None:
        self.faults.append((path, status, retry_after))

    # --- serving ------------------------------------------------------------------------
    def _authorized(self, header: str | None) -> bool:
        if self.revoked or not header or not header.startswith("Bearer "):
            return False
        token = header.removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["ES256"], audience="appstoreconnect-v1",
                                options={"verify_exp": False, "verify_iat": False})  # fmt: skip
        except jwt.InvalidTokenError:
            return False
        now = self.clock().timestamp()  # expiry by the test's clock, not the machine's
        fresh = claims["iat"] - 60 <= now < claims["exp"] and claims["exp"] - claims["iat"] <= 1200
        return fresh and jwt.get_unverified_header(token).get("kid") == KEY_ID and claims["iss"] == ISSUER

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        body = body_of(handler)
        self.requests.append(f"{method} {path}")
        if not self._authorized(handler.headers.get("Authorization")):
            self._error(handler, 401, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.",
                        "Provide a properly configured and signed bearer token, and make sure that it has not expired.")  # fmt: skip
            return
        for fault in self.faults:
            if fault[0] in path:
                self.faults.remove(fault)
                headers = {"Retry-After": fault[2]} if fault[2] else {}
                code = "RATE_LIMIT_EXCEEDED" if fault[1] == 429 else "UNEXPECTED_ERROR"
                self._error(handler, fault[1], code, "injected", "", headers)
                return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and path == REVIEWS:
            self._list(handler, query)
        elif method == "GET" and path.startswith("/v1/customerReviews/") and path.endswith("/response"):
            response = self.responses.get(path.split("/")[3])
            if response is None:
                self._error(handler, 404, "NOT_FOUND", "The specified resource does not exist", "")
            else:
                send_json(handler, 200, {"data": response})
        elif method == "POST" and path == "/v1/customerReviewResponses":
            self._respond(handler, json.loads(body or b"{}"))
        else:
            self._error(handler, 404, "NOT_FOUND", "The specified resource does not exist", path)

    def _list(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        ids = sorted(self.created, key=self.created.__getitem__, reverse=query.get("sort") == "-createdDate")
        if "filter[territory]" in query:
            wanted = query["filter[territory]"].split(",")
            ids = [i for i in ids if self.reviews[i]["attributes"].get("territory") in wanted]
        start = int(query.get("cursor") or 0)
        size = min(self.page_size, int(query.get("limit") or 20))
        page = ids[start : start + size]
        data, included = [], []
        for review_id in page:
            item = dict(self.reviews[review_id])
            response = self.responses.get(review_id)
            if response is not None and query.get("include") == "response":
                item["relationships"] = {"response": {"data": {"type": "customerReviewResponses",
                                                               "id": response["id"]}}}  # fmt: skip
                included.append(response)
            data.append(item)
        document: dict[str, Any] = {"data": data, "links": {"self": self.base_url + REVIEWS},
                                    "meta": {"paging": {"total": len(ids), "limit": size}}}  # fmt: skip
        if included:
            document["included"] = included
        if start + size < len(ids):
            rest = {k: v for k, v in query.items() if k != "cursor"}
            params = "&".join(f"{k}={v}" for k, v in rest.items())
            document["links"]["next"] = f"{self.base_url}{REVIEWS}?{params}&cursor={start + size}"
        send_json(handler, 200, document)

    def _respond(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        data = body.get("data") or {}
        text = str((data.get("attributes") or {}).get("responseBody") or "")
        review_id = str((((data.get("relationships") or {}).get("review") or {}).get("data") or {}).get("id"))
        if review_id not in self.reviews:
            self._error(handler, 404, "NOT_FOUND", "There is no resource of type 'customerReviews' with this id", "")
            return
        if not text:
            self._error(handler, 409, "ENTITY_ERROR.ATTRIBUTE.REQUIRED", "responseBody is required", "")
            return
        response = {"type": "customerReviewResponses", "id": f"resp-{next(self._ids)}",
                    "attributes": {"responseBody": text, "lastModifiedDate": apple_time(self.clock()),
                                   "state": "PENDING_PUBLISH"}}  # fmt: skip
        self.responses[review_id] = response  # one per review: a new one replaces it
        self.responses_created[review_id] = self.responses_created.get(review_id, 0) + 1
        delay, self.reply_delay = self.reply_delay, 0.0
        if delay:
            time.sleep(delay)
        send_json(handler, 201, {"data": response})

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: str, title: str, detail: str,
               headers: dict[str, str] | None = None) -> None:  # fmt: skip
        error = {"id": "e1", "status": str(status), "code": code, "title": title, "detail": detail}
        send_json(handler, status, {"errors": [error]}, headers or {})
