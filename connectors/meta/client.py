"""Meta's Graph API over httpx: one client per source, shared by Facebook and Instagram.

It counts requests, reads the usage headers Meta sends with every answer, and turns
Graph's error object (`code`, `error_subcode`, `fbtrace_id`) into the connector errors
the poller and the queue act on. A throttle, or usage above `slow_down_at` percent,
blocks every further request of this client until the time Meta gave (or a default
pause); the connector also writes that time into its cursor, so a restart honours it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from watcher.core.post import utc_now

GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v23.0"
# Graph's throttles: app (4), user (17), page (32), API-specific (613), business use case (80001-80014)
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_CODE = 190
# how long to wait when Meta throttles without saying for how long (usage is counted per rolling hour)
THROTTLE_PAUSE = timedelta(minutes=15)
USAGE_PAUSE = timedelta(minutes=10)
_PERMISSION = re.compile(r"\b((?:pages|instagram|business|read)_[a-z_]+)\b")
_TOKEN_SUBCODES = {
    463: "it has expired",
    460: "the password of the user who made it changed",
    458: "the user removed the app",
    467: "it was invalidated (the user logged out or the session ended)",
    492: "the user has no role on the Page any more",
}


@dataclass(frozen=True)
class GraphErrorInfo:
    """Graph's error object, as much of it as came."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    fbtrace_id: str

    @classmethod
    def of(cls, response: httpx.Response) -> GraphErrorInfo:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(response.status_code, None, None, response.reason_phrase or "", "")
        return cls(
            response.status_code,
            _int(error.get("code")),
            _int(error.get("error_subcode")),
            str(error.get("message") or ""),
            str(error.get("fbtrace_id") or ""),
        )

    def __str__(self) -> str:
        code = (
            f"code {self.code}" + (f"/{self.subcode}" if self.subcode else "") if self.code else f"HTTP {self.status}"
        )
        trace = f", fbtrace_id {self.fbtrace_id}" if self.fbtrace_id else ""
        return f"{self.message or 'no message'} ({code}{trace})"

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    @property
    def permission(self) -> bool:
        return self.code == 10 or (self.code is not None and 200 <= self.code <= 299)

    @property
    def gone(self) -> bool:
        """The object does not exist (deleted) or this token may not see it."""
        return self.code == 100 and self.subcode == 33


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_percent(headers: Mapping[str, str]) -> tuple[float, timedelta | None]:
    """The highest figure of X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage
    (percent of the allowance used) and the longest `estimated_time_to_regain_access`
    (minutes), when Meta sent them; (0, None) when it sent none or sent them garbled."""
    highest, regain = 0.0, 0.0
    for name in ("x-app-usage", "x-page-usage", "x-business-use-case-usage"):
        text = headers.get(name)
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        figures: list[Mapping[str, Any]] = []
        if name == "x-business-use-case-usage" and isinstance(data, dict):
            for entries in data.values():
                figures += [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        elif isinstance(data, dict):
            figures.append(data)
        for figure in figures:
            for key in ("call_count", "total_cputime", "total_time"):
                value = figure.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    highest = max(highest, float(value))
            minutes = figure.get("estimated_time_to_regain_access")
            if isinstance(minutes, int | float) and not isinstance(minutes, bool):
                regain = max(regain, float(minutes))
    return highest, (timedelta(minutes=regain) if regain > 0 else None)


class GraphClient:
    """GET and POST against one Graph host and version with one token.

    `platform` names the API in messages ("Facebook", "Instagram"); `token_hint` says
    where the token comes from (the environment variable), for messages about it."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        token: str,
        version: str = GRAPH_VERSION,
        platform: str = "Facebook",
        token_hint: str = "the token variable",
        source: str = "",
        slow_down_at: float = 90.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.http = http
        self.token = token
        self.version = version.strip("/")
        self.platform = platform
        self.token_hint = token_hint
        self.source = source
        self.slow_down_at = slow_down_at
        self.clock = clock
        self.count = 0  # requests sent, read by the connector for FetchResult.requests_made
        self.blocked_until: datetime | None = None

    def get(
        self, path: str, params: Mapping[str, Any], *, what: str, needs: str, token: str | None = None
    ) -> dict[str, Any]:
        """GET `path` (relative to the version); `what` names it in messages and `needs`
        is the permission it takes (`token`: another token for this call, e.g. the app's
        for /debug_token). Read errors come back typed."""
        response = self._send("GET", path, params=params, what=what, writing=False, token=token)
        if response.status_code >= 400:
            raise self.read_error(GraphErrorInfo.of(response), response, what=what, needs=needs)
        return self._json(response, what, writing=False)

    def post(self, path: str, data: Mapping[str, Any], *, what: str, needs: str) -> dict[str, Any]:
        """POST a write. A timeout after the request went out, or a 5xx, may have done the
        write: ReplyOutcomeUnknown. A refusal a person must act on: ReplyRejected."""
        response = self._send("POST", path, data=data, what=what, writing=True)
        if response.status_code < 400:
            return self._json(response, what, writing=True)
        info = GraphErrorInfo.of(response)
        if info.throttled or info.code == TOKEN_CODE or info.permission:
            raise self.read_error(info, response, what=what, needs=needs)
        if response.status_code >= 500 or info.code in (1, 2):
            raise ReplyOutcomeUnknown(
                f"{self.platform} answered {info} while doing {what}; it may have been done", source=self.source
            )
        if info.gone:
            raise ReplyRejected(
                f"{what}: the comment or post no longer exists on {self.platform} (deleted, or hidden from the "
                f"Page); there is nothing to answer, dismiss the item",
                source=self.source,
            )
        raise ReplyRejected(f"{self.platform} refused {what}: {info}; act on it there or dismiss", source=self.source)

    # --- plumbing ---------------------------------------------------------------------
    def _send(
        self, method: str, path: str, *, what: str, writing: bool, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        now = self.clock()
        if self.blocked_until is not None and now < self.blocked_until:
            raise RateLimited(
                f"{self.platform} usage is at its limit; no request before {self.blocked_until:%H:%M:%S} UTC",
                until=self.blocked_until,
                endpoint="graph",
                source=self.source,
            )
        url = f"/{self.version}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {token or self.token}"}  # never in the URL, so never in a log
        self.count += 1
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise SourceUnavailable(
                f"cannot reach {self.platform} ({type(exc).__name__}) for {what}; nothing was sent, will retry "
                "(check graph_url and the network)",
                source=self.source,
            ) from None
        except httpx.TimeoutException:
            if writing:
                raise ReplyOutcomeUnknown(
                    f"{self.platform} did not answer in time while doing {what}; it may have been done",
                    source=self.source,
                ) from None
            raise SourceUnavailable(
                f"{self.platform} did not answer in time for {what}; will retry", source=self.source
            ) from None
        except httpx.HTTPError as exc:
            if writing:
                raise ReplyOutcomeUnknown(
                    f"the connection to {self.platform} broke while doing {what} ({type(exc).__name__}); it may "
                    "have been done",
                    source=self.source,
                ) from None
            raise SourceUnavailable(
                f"{self.platform} request for {what} failed ({type(exc).__name__}); will retry", source=self.source
            ) from None
        self._note_usage(response.headers)
        return response

    def _note_usage(self, headers: Mapping[str, str]) -> None:
        """Slow down before 100%: above `slow_down_at` nothing more is sent until Meta's
        estimate of when access comes back, or a short pause."""
        percent, regain = usage_percent(headers)
        if percent >= self.slow_down_at:
            self.block(self.clock() + (regain or USAGE_PAUSE))

    def block(self, until: datetime) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until

    def _json(self, response: httpx.Response, what: str, *, writing: bool) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        message = f"{self.platform} sent something that is not a JSON object for {what}"
        if writing:
            raise ReplyOutcomeUnknown(f"{message}; it may have been done", source=self.source)
        raise SourceUnavailable(f"{message}; will retry", source=self.source)

    def read_error(self, info: GraphErrorInfo, response: httpx.Response, *, what: str, needs: str) -> ConnectorError:
        """Graph's error object -> the typed error for a read (and for a write's throttle,
        token or permission errors, which mean the same there)."""
        if info.throttled or response.status_code == 429:
            _, regain = usage_percent(response.headers)
            until = self.clock() + (regain or THROTTLE_PAUSE)
            self.block(until)
            return RateLimited(
                f"{self.platform} throttled {what}: {info}; no request before {until:%H:%M:%S} UTC",
                until=until,
                endpoint="graph",
                source=self.source,
            )
        if info.code == TOKEN_CODE or response.status_code == 401:
            why = _TOKEN_SUBCODES.get(info.subcode or 0, "it is not valid any more")
            return AuthFailed(
                f"{self.platform} refused the access token ({why}; {info}): make a new long-lived Page token as "
                f"docs/connectors/ describes and export it in {self.token_hint}",
                source=self.source,
            )
        if info.permission or response.status_code == 403:
            named = _PERMISSION.search(info.message)
            permission = named.group(1) if named else needs
            return AuthFailed(
                f"{self.platform} refused {what} ({info}): the token lacks the permission {permission}; grant it to "
                f"the app, make a new Page token and export it in {self.token_hint}",
                source=self.source,
            )
        if info.gone or info.code == 100 or response.status_code == 404:
            return SourceMisconfigured(
                f"{self.platform} cannot show {what} ({info}): check the id in the source's config and that the "
                "token belongs to that Page or account",
                source=self.source,
            )
        return SourceUnavailable(f"{self.platform} answered {info} for {what}; will retry", source=self.source)
