"""praw plumbing for the Reddit connector: count requests, read rate-limit headers,
keep prawcore from retrying behind our back, and turn praw's failures into the
connector's typed errors (messages say what to do).

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
from praw.exceptions import RedditAPIException

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.reddit.mapping import Stream
from watcher.core.post import Post, utc_now


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


# --- errors: praw and prawcore failures as the typed errors the Poller and queue act on ---


def fetch_error(
    exc: Exception, stream: Stream | None, *, source: str, now: datetime, where: str = ""
) -> ConnectorError:
    """A praw/prawcore error -> the typed error the Poller and queue act on."""
    if not where:
        where = f"r/{stream.subreddit}" if stream and stream.subreddit else (stream.path if stream else "Reddit")
    if isinstance(exc, prawcore.TooManyRequests):
        return rate_limited(exc.response, where, source=source, now=now)
    if isinstance(exc, prawcore.OAuthException):
        return AuthFailed(
            f"Reddit refused the account login ({exc.error}): check the username/password or refresh "
            f"token variables of this source, and that the account is a developer of the app",
            source=source,
        )
    if isinstance(exc, prawcore.InsufficientScope):
        return AuthFailed(
            f"the Reddit token lacks a scope needed for {where}; authorize the app with read, "
            f"privatemessages, submit and identity scopes",
            source=source,
        )
    if isinstance(exc, prawcore.InvalidToken) or (
        isinstance(exc, prawcore.ResponseException) and exc.response.status_code == 401
    ):
        return AuthFailed(
            "Reddit refused the app credentials (HTTP 401): check the client id and secret variables "
            "of this source against https://www.reddit.com/prefs/apps",
            source=source,
        )
    if isinstance(exc, prawcore.Redirect):
        return SourceMisconfigured(
            f"{where} does not exist (Reddit redirected to search); fix the name in subreddits",
            source=source,
        )
    if isinstance(exc, prawcore.Forbidden | prawcore.NotFound | prawcore.UnavailableForLegalReasons):
        reason = _reason(exc.response)
        if stream is None or not stream.subreddit and not stream.path.startswith("message/"):
            return SourceUnavailable(
                f"Reddit refused to show {where} (HTTP {exc.response.status_code}); will retry",
                source=source,
            )
        if stream.path.startswith("message/"):
            return AuthFailed(
                f"Reddit refused {stream.path} (HTTP {exc.response.status_code}): inbox mode needs the brand "
                f"account logged in with the privatemessages scope",
                source=source,
            )
        what = {
            "private": "is private",
            "banned": "is banned",
            "quarantined": "is quarantined",
            "gold_only": "is restricted",
        }.get(reason, "is not readable" if isinstance(exc, prawcore.Forbidden) else "was not found")
        return SourceMisconfigured(
            f"{where} {what} (HTTP {exc.response.status_code}); remove it from subreddits, or ask its "
            f"moderators to approve the brand account and log in as it",
            source=source,
        )
    if isinstance(exc, prawcore.RequestException):
        original = exc.original_exception
        what = original.what if isinstance(original, TransportFailure) else type(original).__name__
        return SourceUnavailable(f"Reddit is unavailable for {where}: {what}; will retry", source=source)
    if isinstance(exc, prawcore.ResponseException):
        return SourceUnavailable(
            f"Reddit answered HTTP {exc.response.status_code} for {where}; will retry", source=source
        )
    return SourceUnavailable(f"Reddit request for {where} failed ({type(exc).__name__}); will retry", source=source)


def rate_limited(response: requests.Response, where: str, *, source: str, now: datetime) -> RateLimited:
    """A 429 as RateLimited, until the time Reddit's headers give (a minute when they say nothing)."""
    headers = response.headers
    wait = 60.0
    for key in ("retry-after", "x-ratelimit-reset"):
        try:
            wait = float(headers[key])
            break
        except (KeyError, ValueError):
            continue
    until = now + timedelta(seconds=max(1.0, wait))
    return RateLimited(
        f"Reddit said too many requests (HTTP 429) for {where}; waiting until {until:%H:%M:%S} UTC",
        until=until,
        endpoint="oauth",
        source=source,
    )


def reply_rejected(exc: RedditAPIException, post: Post, *, source: str) -> ReplyRejected:
    """Reddit's refusal of a comment as ReplyRejected, saying what the team can do instead."""
    item = exc.items[0] if exc.items else None
    error_type = item.error_type if item else "UNKNOWN"
    message = item.message if item else str(exc)
    where = post.url or post.native_id
    reasons = {
        "RATELIMIT": f"Reddit is rate-limiting comments from the brand account ({message}); send again later",
        "THREAD_LOCKED": f"{where} is locked: nobody can comment; reply by private message or dismiss",
        "TOO_OLD": f"{where} is archived (too old to reply to); reply by private message or dismiss",
        "DELETED_COMMENT": f"{where} was deleted; there is nothing to reply to, dismiss the item",
        "DELETED_LINK": f"the post {where} was deleted; there is nothing to reply to, dismiss the item",
        "INVALID_THING_ID": f"{where} no longer exists on Reddit; dismiss the item",
        "USER_BLOCKED": f"the author of {where} blocked the brand account; reply is not possible",
        "SOMETHING_IS_BROKEN": f"Reddit could not post the reply to {where} ({message}); try again",
    }
    text = reasons.get(error_type, f"Reddit refused the reply to {where}: {error_type}: {message}")
    return ReplyRejected(text, source=source)


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason") or "") if isinstance(body, dict) else ""
