"""Trustpilot's API over httpx: an OAuth access token from the client credentials grant
(API key and secret), request counting, and Trustpilot's errors turned into the
connector errors.

A token lives 100 hours and cannot be refreshed: a new one is asked for with the same
request when it has under a minute left, or once when the API says it expired (a
second refusal is AuthFailed, never a loop). Trustpilot asks for at most 833 calls per
5 minutes and 10,000 an hour per key and answers 429 beyond; a Retry-After is
honoured, else the rest of the 5-minute window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

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

API_URL = "https://api.trustpilot.com"
TOKEN_URL = "https://api.trustpilot.com/v1/oauth/oauth-business-users-for-applications/accesstoken"
RATE_PAUSE = timedelta(minutes=5)  # a 429 without Retry-After: Trustpilot counts calls per 5 minutes
TOKEN_MARGIN = timedelta(minutes=1)


def trustpilot_error(response: httpx.Response) -> str:
    """What Trustpilot said: the gateway's `fault` (faultstring, errorcode), the API's
    `message` (and `details`), OAuth's `error`, or the HTTP status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    fault = body.get("fault")
    if isinstance(fault, dict):
        code = (fault.get("detail") or {}).get("errorcode") if isinstance(fault.get("detail"), dict) else None
        return f"{fault.get('faultstring') or response.status_code}" + (f" ({code})" if code else "")
    text = body.get("message") or body.get("error_description") or body.get("error")
    if not text:
        return f"HTTP {response.status_code}"
    details = body.get("details")
    return f"{text} ({details})" if details and isinstance(details, str) else str(text)


class TrustpilotClient:
    """GET and POST against Trustpilot's API with a valid access token."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_key: str,
        api_secret: str,
        token_url: str = TOKEN_URL,
        source: str = "",
        key_hint: str = "TRUSTPILOT_API_KEY and TRUSTPILOT_API_SECRET",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.http = http
        self.api_key = api_key
        self.api_secret = api_secret
        self.token_url = token_url
        self.source = source
        self.key_hint = key_hint
        self.clock = clock
        self.count = 0  # requests sent, token requests included
        self._token: tuple[str, datetime] | None = None

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, what: str) -> dict[str, Any]:
        response = self._call("GET", path, what=what, writing=False, params=params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SourceUnavailable(f"Trustpilot sent no JSON object for {what}; will retry", source=self.source)
        return body

    def post(self, path: str, body: Mapping[str, Any], *, what: str) -> httpx.Response:
        return self._call("POST", path, what=what, writing=True, json=body)

    def _call(self, method: str, path: str, *, what: str, writing: bool, **kwargs: Any) -> httpx.Response:
        cached = self._token
        response = self._send(method, path, what=what, writing=writing, **kwargs)
        if response.status_code == 401 and cached is not None and self._token is cached:
            # the token expired or was revoked early: ask for a new one, once
            self._token = None
            response = self._send(method, path, what=what, writing=writing, **kwargs)
        if response.status_code >= 400:
            raise self.error(response, what, writing=writing)
        return response

    def _send(self, method: str, path: str, *, what: str, writing: bool, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        self.count += 1
        try:
            return self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "Trustpilot", what, writing=writing, source=self.source) from None

    def _bearer(self) -> str:
        now = self.clock()
        if self._token is None or self._token[1] - now < TOKEN_MARGIN:
            self._token = self._new_token(now)
        return self._token[0]

    def _new_token(self, now: datetime) -> tuple[str, datetime]:
        """The client credentials grant: the API key and secret as HTTP Basic."""
        self.count += 1
        try:
            response = self.http.post(
                self.token_url, auth=(self.api_key, self.api_secret), data={"grant_type": "client_credentials"}
            )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"cannot get a Trustpilot access token ({type(exc).__name__}); will retry", source=self.source
            ) from None
        if response.status_code in (400, 401, 403):
            raise AuthFailed(
                f"Trustpilot refused the API key and secret ({trustpilot_error(response)}): check {self.key_hint} "
                "(Trustpilot Business > Integrations > API; docs/connectors/trustpilot.md)",
                source=self.source,
            )
        if response.status_code >= 400:
            raise self.error(response, "an access token", writing=False)
        try:
            body = response.json()
            token, life = str(body["access_token"]), int(body["expires_in"])  # expires_in comes as a string
        except (ValueError, KeyError, TypeError):
            raise SourceUnavailable("Trustpilot sent no access token; will retry", source=self.source) from None
        return token, now + timedelta(seconds=life)

    def error(self, response: httpx.Response, what: str, *, writing: bool) -> ConnectorError:
        status, detail = response.status_code, trustpilot_error(response)
        if status == 429:
            after = response.headers.get("retry-after", "")
            until = self.clock() + (timedelta(seconds=int(after)) if after.isdigit() else RATE_PAUSE)
            return RateLimited(
                f"Trustpilot's rate limit is reached ({detail}; 833 calls per 5 minutes, 10,000 an hour per key): "
                f"no request before {until:%H:%M:%S} UTC",
                until=until,
                endpoint="trustpilot",
                source=self.source,
            )
        if status == 401:
            return AuthFailed(
                f"Trustpilot refused a new access token for {what} ({detail}): check {self.key_hint} and that the "
                "API key has access to this business unit",
                source=self.source,
            )
        if status == 403:
            return AuthFailed(
                f"Trustpilot refused {what} ({detail}): the API key needs the API module of a paid plan and access "
                "to this business unit",
                source=self.source,
            )
        if writing and status < 500:
            why = "the review is gone" if status == 404 else f"Trustpilot refused it ({detail})"
            return ReplyRejected(f"{what}: {why}; answer in Trustpilot Business or dismiss", source=self.source)
        if status in (400, 404):
            return SourceMisconfigured(
                f"Trustpilot cannot show {what} ({detail}): check business_unit_id", source=self.source
            )
        if writing:
            return ReplyOutcomeUnknown(
                f"Trustpilot failed while posting {what} ({detail}); it may have been posted", source=self.source
            )
        return SourceUnavailable(f"Trustpilot failed {what} ({detail}); will retry", source=self.source)
