"""praw plumbing for the Reddit connector: count requests, read rate-limit headers,
and keep prawcore from retrying behind our back.

prawcore retries timeouts, connection errors and 5xx twice, sleeping up to ~6s
in the job thread, and would re-send a POST /api/comment whose first attempt may
already be posted. `WatcherRequestor` (praw's documented `requestor_class`
hook) turns those into failures prawcore does not retry; the Poller's persisted
back-off and the queue's find-before-resend take over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import praw
import prawcore
import requests

from watcher.core.post import utc_now


class TransportFailure(Exception):
    """Raised inside prawcore instead of requests' own errors so prawcore does not
    retry (it retries ReadTimeout/ConnectionError and 5xx, sleeping in between)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class RequestMeter:
    """Requests made through one praw.Reddit and the last rate-limit headers seen.
    Shared between the requestor (writes) and the connector (reads)."""

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.count = 0
        self.remaining: float | None = None
        self.reset_at: datetime | None = None

    def record(self, headers: Mapping[str, str]) -> None:
        if "x-ratelimit-remaining" not in headers:
            return
        try:
            self.remaining = float(headers["x-ratelimit-remaining"])
            self.reset_at = self.clock() + timedelta(seconds=float(headers.get("x-ratelimit-reset", "60")))
        except ValueError:
            return

    def low(self, reserve: int) -> bool:
        """True while at most `reserve` requests remain in the current window."""
        if self.remaining is None or self.reset_at is None:
            return False
        if self.reset_at <= self.clock():
            return False
        return self.remaining <= reserve


class WatcherRequestor(prawcore.Requestor):
    """prawcore's requestor plus: count every request, record x-ratelimit-* headers,
    use our timeout, and turn timeouts, connection errors and 5xx into failures
    prawcore will not retry."""

    def __init__(self, *args: Any, meter: RequestMeter, timeout: float = 16.0, **kwargs: Any) -> None:
        super().__init__(*args, timeout=timeout, **kwargs)
        self.meter = meter

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        self.meter.count += 1
        try:
            kwargs["timeout"] = self.timeout
            response = self._http.request(*args, **kwargs)
        except requests.Timeout:
            raise prawcore.RequestException(
                TransportFailure(f"no answer within {self.timeout:g}s"), args, kwargs
            ) from None
        except requests.RequestException as exc:
            raise prawcore.RequestException(
                TransportFailure(f"cannot reach Reddit ({type(exc).__name__})"), args, kwargs
            ) from None
        self.meter.record(response.headers)
        if response.status_code in prawcore.Session.RETRY_STATUSES:
            raise prawcore.RequestException(
                TransportFailure(f"Reddit answered HTTP {response.status_code}"), args, kwargs
            )
        return response


def make_reddit(
    *,
    client_id: str,
    client_secret: str,
    user_agent: str,
    meter: RequestMeter,
    oauth_url: str = "https://oauth.reddit.com",
    reddit_url: str = "https://www.reddit.com",
    username: str = "",
    password: str = "",
    refresh_token: str = "",
    timeout: float = 16.0,
    session: requests.Session | None = None,
) -> praw.Reddit:
    """A praw.Reddit that goes through WatcherRequestor. Without a user it is
    read-only (application-only OAuth); with username/password or a refresh token it
    acts as the brand account."""
    settings: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "user_agent": user_agent,
        "oauth_url": oauth_url.rstrip("/"),
        "reddit_url": reddit_url.rstrip("/"),
        "check_for_updates": False,
        "check_for_async": False,
        "ratelimit_seconds": 0,  # never sleep and re-POST on a RATELIMIT answer
    }
    # always set all three, so a praw.ini or praw_* environment variable cannot log in as someone else
    settings["refresh_token"] = refresh_token or None
    settings["username"] = username if (username and password and not refresh_token) else None
    settings["password"] = password if (username and password and not refresh_token) else None
    kwargs: dict[str, Any] = {"meter": meter, "timeout": timeout}
    if session is not None:
        kwargs["session"] = session
    return praw.Reddit(requestor_class=WatcherRequestor, requestor_kwargs=kwargs, **settings)
