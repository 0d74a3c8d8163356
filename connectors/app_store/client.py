"""App Store Connect over httpx: an ES256 token signed with the team's key, request
counting, and Apple's error objects turned into the connector errors.

The token (PyJWT) lives 20 minutes at most, as Apple requires; a new one is signed
when the old one has under a minute left. Apple counts requests per hour per key and
answers 429 when they are used up; a Retry-After is honoured, else the rest of the hour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.shared import transport_error
from watcher.core.post import utc_now

APP_STORE_URL = "https://api.appstoreconnect.apple.com"
TOKEN_LIFE = timedelta(minutes=19)  # Apple refuses tokens that live more than 20 minutes
AUDIENCE = "appstoreconnect-v1"


@dataclass(frozen=True)
class Signer:
    """Signs App Store Connect tokens with the team's private key (.p8)."""

    key_id: str
    issuer_id: str
    private_key: str

    def token(self, now: datetime) -> str:
        payload = {"iss": self.issuer_id, "iat": int(now.timestamp()), "exp": int((now + TOKEN_LIFE).timestamp()),
                   "aud": AUDIENCE}  # fmt: skip
        return jwt.encode(payload, self.private_key, algorithm="ES256", headers={"kid": self.key_id, "typ": "JWT"})


def apple_error(response: httpx.Response) -> str:
    """`code: title (detail)` of the first of Apple's errors, or the HTTP status."""
    try:
        errors = response.json().get("errors")
        first = errors[0] if isinstance(errors, list) and errors else {}
    except (ValueError, AttributeError):
        first = {}
    if not isinstance(first, dict) or not first:
        return f"HTTP {response.status_code}"
    detail = f" ({first['detail']})" if first.get("detail") else ""
    return f"{first.get('code') or response.status_code}: {first.get('title') or ''}{detail}"


class AppStoreClient:
    """GET and POST against App Store Connect with a fresh token."""

    def __init__(
        self,
        http: httpx.Client,
        signer: Signer,
        *,
        source: str = "",
        key_hint: str = "APP_STORE_KEY_FILE",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.http = http
        self.signer = signer
        self.source = source
        self.key_hint = key_hint
        self.clock = clock
        self.count = 0
        self._token: tuple[str, datetime] | None = None

    def _bearer(self) -> str:
        now = self.clock()
        if self._token is None or self._token[1] - now < timedelta(minutes=1):
            self._token = (self.signer.token(now), now + TOKEN_LIFE)
        return self._token[0]

    def get(self, url: str, params: Mapping[str, Any] | None = None, *, what: str) -> dict[str, Any]:
        response = self._send("GET", url, what=what, writing=False, params=params)
        if response.status_code >= 400:
            raise self.error(response, what, writing=False)
        return self._json(response, what, writing=False)

    def post(self, url: str, body: Mapping[str, Any], *, what: str) -> dict[str, Any]:
        response = self._send("POST", url, what=what, writing=True, json=body)
        if response.status_code >= 400:
            raise self.error(response, what, writing=True)
        return self._json(response, what, writing=True)

    def _send(self, method: str, url: str, *, what: str, writing: bool, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        self.count += 1
        try:
            return self.http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "App Store Connect", what, writing=writing, source=self.source) from None

    def _json(self, response: httpx.Response, what: str, *, writing: bool) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        if writing:
            raise ReplyOutcomeUnknown(
                f"App Store Connect sent no JSON for {what}; it may be posted", source=self.source
            )
        raise SourceUnavailable(f"App Store Connect sent no JSON for {what}; will retry", source=self.source)

    def error(self, response: httpx.Response, what: str, *, writing: bool) -> ConnectorError:
        status, detail = response.status_code, apple_error(response)
        if status == 429:
            after = response.headers.get("retry-after", "")
            now = self.clock()
            next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            until = now + timedelta(seconds=int(after)) if after.isdigit() else next_hour
            return RateLimited(
                f"App Store Connect's hourly request limit is used up ({detail}); no request before {until:%H:%M} UTC",
                until=until,
                endpoint="app_store",
                source=self.source,
            )
        if status == 401:
            return AuthFailed(
                f"App Store Connect refused the token for {what} ({detail}): the key may be revoked; make a new API "
                f"key (docs/connectors/app_store.md) and set {self.key_hint}, APP_STORE_KEY_ID and "
                "APP_STORE_ISSUER_ID",
                source=self.source,
            )
        if status == 403:
            return AuthFailed(
                f"App Store Connect refused {what} ({detail}): the API key needs the Customer Support, App Manager "
                "or Admin role",
                source=self.source,
            )
        if writing and status < 500 and status != 409:
            why = "the review is gone" if status == 404 else f"Apple refused it ({detail})"
            return ReplyRejected(f"{what}: {why}; answer in App Store Connect or dismiss", source=self.source)
        if status in (400, 404):
            return SourceMisconfigured(f"App Store Connect cannot show {what} ({detail}): check app_id",
                                       source=self.source)  # fmt: skip
        if writing:
            return ReplyOutcomeUnknown(
                f"App Store Connect failed while posting {what} ({detail}); it may have been posted",
                source=self.source,
            )
        return SourceUnavailable(f"App Store Connect failed {what} ({detail}); will retry", source=self.source)
