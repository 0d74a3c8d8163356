"""A fake Trustpilot API (business unit reviews, replies, OAuth client credentials) on
127.0.0.1 for the real httpx client.

It speaks Trustpilot's shapes: the token endpoint takes the API key and secret as HTTP
Basic and `grant_type=client_credentials` and answers `expires_in` as a string; the
private reviews of a business unit come newest created first (`orderBy=createdat.desc`),
`perPage` up to 100 and `page` from 1, with a `next-page` link while more follow; a
review has `stars`, `title`, `text`, `language`, `createdAt`, `updatedAt` (null until
the customer edits it), `consumer` and `companyReply`; a reply is `POST
/v1/private/reviews/{id}/reply` with `authorBusinessUserId` and `message` (201, no body)
and replaces the earlier one. The gateway's errors are `fault` objects (an expired or
unknown token, 401; a spike arrest, 429 with Retry-After); the API's own are `message`
objects. Tests seed reviews, edit and answer them, expire tokens, inject faults, delay
the next reply and read `requests`.
"""

from __future__ import annotations

import base64
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

BUSINESS_UNIT = "5f3a8d2e9c1b4a0001d2e3f4"
BUSINESS_USER = "5f3a8d2e9c1b4a0001aa0001"
API_KEY = "tp-key-123"
API_SECRET = "tp-secret-456"
TOKEN_PATH = "/v1/oauth/oauth-business-users-for-applications/accesstoken"
REVIEWS = f"/v1/private/business-units/{BUSINESS_UNIT}/reviews"


def tp_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeTrustpilot(LoopbackFake):
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    token_life: int = 359999  # seconds, as Trustpilot grants (100 hours)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)  # token -> expiry by the test's clock
    requests: list[str] = field(default_factory=list)
    replies_posted: dict[str, int] = field(default_factory=dict)
    key_valid: bool = True
    reply_delay: float = 0.0
    faults: list[tuple[str, int, str | None]] = field(default_factory=list)  # (path part, status, Retry-After)
    _ids: Any = field(default_factory=lambda: count(1))

    # --- seeding ----------------------------------------------------------------------
    def add_review(self, title: str, text: str, stars: int, at: datetime, *, name: str = "Anna P.",
                   language: str = "en", country: str = "GB") -> str:  # fmt: skip
        number = next(self._ids)
        review_id = f"64b0c0ffee{number:014x}"
        self.reviews[review_id] = {
            "id": review_id, "stars": stars, "title": title, "text": text, "language": language,
            "createdAt": tp_time(at), "updatedAt": None, "experiencedAt": tp_time(at - timedelta(days=1)),
            "status": "active", "isVerified": True, "referralEmail": f"customer{number}@example.com",
            "referenceId": f"order-{number}",
            "consumer": {"id": f"c0ffee{number:018x}", "displayName": name, "displayLocation": None,
                         "numberOfReviews": 1, "countryCode": country},
            "businessUnit": {"id": BUSINESS_UNIT, "identifyingName": "lumobank.com", "displayName": "Lumo"},
            "companyReply": None,
            "links": [{"href": f"https://api.trustpilot.com/v1/reviews/{review_id}", "method": "GET", "rel": "reviews"}],
        }  # fmt: skip
        self.created[review_id] = at
        return review_id

    def edit_review(self, review_id: str, text: str, stars: int, at: datetime) -> None:
        """The customer rewrites the review: the listing keeps its creation order."""
        self.reviews[review_id].update(text=text, stars=stars, updatedAt=tp_time(at))

    def answer(self, review_id: str, text: str, at: datetime) -> None:
        """The team answers in Trustpilot Business (not through the API)."""
        self._set_reply(review_id, text, at)

    def expire_tokens(self) -> None:
        """Every token handed out so far expires now (as Trustpilot's do after 100 hours)."""
        self.tokens = dict.fromkeys(self.tokens, self.clock())

    def fail_next(self, path: str, status: int, retry_after: str | None = None) -> None:
        self.faults.append((path, status, retry_after))

    def api_requests(self) -> list[str]:
        return [r for r in self.requests if TOKEN_PATH not in r]

    # --- serving ------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        body = body_of(handler)
        self.requests.append(f"{method} {path}")
        for fault in self.faults:
            if fault[0] in path:
                self.faults.remove(fault)
                self._fault(handler, fault[1], fault[2])
                return
        if method == "POST" and path == TOKEN_PATH:
            self._token(handler, handler.headers.get("Authorization") or "", body)
            return
        header = handler.headers.get("Authorization") or ""
        expiry = self.tokens.get(header.removeprefix("Bearer "))
        if expiry is None:
            self._gateway(handler, 401, "Invalid access token", "oauth.v2.InvalidAccessToken")
            return
        if self.clock() >= expiry:
            self._gateway(handler, 401, "Access Token expired", "keymanagement.service.access_token_expired")
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and path == REVIEWS:
            self._list(handler, query)
        elif method == "GET" and path.startswith("/v1/private/business-units/") and path.endswith("/reviews"):
            send_json(handler, 404, {"message": "Business unit not found", "details": path.split("/")[4]})
        elif method == "GET" and path.startswith("/v1/private/reviews/") and path.count("/") == 4:
            review = self.reviews.get(path.split("/")[4])
            if review is None:
                send_json(handler, 404, {"message": "Review not found"})
            else:
                send_json(handler, 200, review)
        elif method == "POST" and path.startswith("/v1/private/reviews/") and path.endswith("/reply"):
            self._reply(handler, path.split("/")[4], json.loads(body or b"{}"))
        else:
            send_json(handler, 404, {"message": "Resource not found", "details": path})

    def _token(self, handler: BaseHTTPRequestHandler, header: str, body: bytes) -> None:
        expected = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if not self.key_valid or header != expected:
            send_json(handler, 401, {"error": "invalid_client", "error_description": "Invalid client credentials"})
            return
        if form.get("grant_type") != "client_credentials":
            send_json(handler, 400, {"error": "unsupported_grant_type"})
            return
        token = f"tok-{next(self._ids)}"
        self.tokens[token] = self.clock() + timedelta(seconds=self.token_life)
        issued = int(self.clock().timestamp() * 1000)
        send_json(handler, 200, {"access_token": token, "expires_in": str(self.token_life), "token_type": "Bearer",
                                 "issued_at": str(issued), "client_id": API_KEY, "status": "approved"})  # fmt: skip

    def _list(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        newest_first = query.get("orderBy", "createdat.desc") == "createdat.desc"
        ids = sorted(self.created, key=lambda i: (self.created[i], i), reverse=newest_first)
        size = min(100, int(query.get("perPage") or 20))
        page = int(query.get("page") or 1)
        start = (page - 1) * size
        links = []
        if start + size < len(ids):
            links.append({"href": f"{self.base_url}{REVIEWS}?perPage={size}&page={page + 1}", "method": "GET",
                          "rel": "next-page"})  # fmt: skip
        send_json(handler, 200, {"reviews": [self.reviews[i] for i in ids[start : start + size]], "links": links})

    def _reply(self, handler: BaseHTTPRequestHandler, review_id: str, body: dict[str, Any]) -> None:
        if review_id not in self.reviews:
            send_json(handler, 404, {"message": "Review not found"})
            return
        if body.get("authorBusinessUserId") != BUSINESS_USER:
            send_json(handler, 400, {"message": "authorBusinessUserId is not a user of this business unit"})
            return
        if not str(body.get("message") or "").strip():
            send_json(handler, 400, {"message": "The message must not be empty"})
            return
        self._set_reply(review_id, str(body["message"]), self.clock())
        self.replies_posted[review_id] = self.replies_posted.get(review_id, 0) + 1
        delay, self.reply_delay = self.reply_delay, 0.0
        if delay:
            time.sleep(delay)
        handler.send_response(201)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _set_reply(self, review_id: str, text: str, at: datetime) -> None:
        earlier = self.reviews[review_id].get("companyReply") or {}
        self.reviews[review_id]["companyReply"] = {
            "text": text, "authorBusinessUserId": BUSINESS_USER, "authorBusinessUserName": "Lumo Care",
            "createdAt": earlier.get("createdAt") or tp_time(at), "updatedAt": tp_time(at),
        }  # fmt: skip

    def _fault(self, handler: BaseHTTPRequestHandler, status: int, retry_after: str | None) -> None:
        if status == 429:
            headers = {"Retry-After": retry_after} if retry_after else {}
            body = {"fault": {"faultstring": "Rate limit quota violation. Quota limit exceeded.",
                              "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}}  # fmt: skip
            send_json(handler, 429, body, headers)
        else:
            send_json(handler, status, {"message": "injected", "details": "try again in 5-15 minutes"})

    def _gateway(self, handler: BaseHTTPRequestHandler, status: int, text: str, code: str) -> None:
        send_json(handler, status, {"fault": {"faultstring": text, "detail": {"errorcode": code}}})
