"""The tweepy side of X: a Client pointed at `api_base_url` that returns raw
responses, the rate windows shared by sources of one app, and tweepy and requests
failures turned into the connector's typed errors (messages say what to do).

tweepy hard-codes https://api.twitter.com; `BaseUrlSession` rewrites it to
`api_base_url` (X's public host by default, or a gateway, proxy or fake server).
tweepy's `wait_on_rate_limit` is never used (it sleeps in the job thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.x.budget import X_API_BASE_URL
from connectors.x.mapping import header_int, reset_at
from watcher.core.post import Post

TWEEPY_HOST = "https://api.twitter.com"
DEFAULT_RESET = timedelta(minutes=15)


class BaseUrlSession(requests.Session):
    """A requests session that sends tweepy's hard-coded host to `base_url` and gives
    every request a timeout (requests has none by default)."""

    def __init__(self, base_url: str = X_API_BASE_URL, *, timeout: float = 20.0) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        method = method.decode() if isinstance(method, bytes) else method
        url = url.decode() if isinstance(url, bytes) else url
        if url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def build_client(
    *,
    bearer_token: str,
    api_base_url: str = X_API_BASE_URL,
    timeout: float = 20.0,
    consumer_key: str = "",
    consumer_secret: str = "",
    access_token: str = "",
    access_token_secret: str = "",
) -> tweepy.Client:
    """A tweepy Client that returns raw responses (we need the rate-limit headers),
    never sleeps on a 429, and talks to `api_base_url`."""
    client = tweepy.Client(
        bearer_token=bearer_token,
        consumer_key=consumer_key or None,
        consumer_secret=consumer_secret or None,
        access_token=access_token or None,
        access_token_secret=access_token_secret or None,
        return_type=requests.Response,
        wait_on_rate_limit=False,
    )
    client.session = BaseUrlSession(api_base_url, timeout=timeout)
    return client


class RateWindows:
    """'No request before' times per endpoint, shared by the sources that use the same
    app credentials, so one source's 429 stops the others' requests to that endpoint."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def blocked_until(self, key: str, now: datetime) -> datetime | None:
        with self._lock:
            until = self._until.get(key)
            if until is not None and until <= now:
                del self._until[key]
                return None
            return until

    def block(self, key: str, until: datetime) -> None:
        with self._lock:
            current = self._until.get(key)
            self._until[key] = until if current is None else max(current, until)


SHARED_RATE_WINDOWS = RateWindows()


def reset_time(exc: tweepy.TooManyRequests, now: datetime) -> datetime:
    """When X said the window resets; 15 minutes (X's read window) when it did not say."""
    if exc.reset_time:
        return datetime.fromtimestamp(exc.reset_time, UTC)
    return now + DEFAULT_RESET


def read_error(exc: Exception, endpoint: str, *, source: str, credentials_hint: str) -> ConnectorError:
    """A failed read (anything but a 429, which blocks the endpoint first) as a typed error."""
    if isinstance(exc, tweepy.Unauthorized):
        return AuthFailed(
            f"X rejected the credentials (401) for {endpoint}; check {credentials_hint} "
            "holds a current token of this app",
            source=source,
        )
    if isinstance(exc, tweepy.Forbidden):
        return AuthFailed(
            f"X refused access to {endpoint} ({api_message(exc)}); check the app's access level "
            "includes this endpoint and the app is attached to a project",
            source=source,
        )
    if isinstance(exc, tweepy.NotFound):
        return SourceMisconfigured(
            f"X does not know what this source asks for ({api_message(exc)}); check user_id", source=source
        )
    if isinstance(exc, tweepy.BadRequest):
        return SourceMisconfigured(
            f"X refused the request ({api_message(exc)}); check the query and options", source=source
        )
    if isinstance(exc, tweepy.TwitterServerError):
        return SourceUnavailable(f"X is having trouble ({exc.response.status_code}); backing off", source=source)
    if isinstance(exc, tweepy.HTTPException):
        return SourceUnavailable(f"unexpected answer from X: {api_message(exc)}", source=source)
    if isinstance(exc, requests.Timeout):
        return SourceUnavailable("X did not answer in time; backing off", source=source)
    return SourceUnavailable(
        f"cannot reach X ({type(exc).__name__}); check api_base_url and the network", source=source
    )


def reply_error(exc: Exception, post: Post, *, source: str, credentials_hint: str, now: datetime) -> ConnectorError:
    """A failed `create_tweet` as a typed error: whether it may have posted decides
    between ReplyOutcomeUnknown (look before retrying) and a refusal."""
    if isinstance(exc, requests.ConnectTimeout):
        return SourceUnavailable(
            "could not connect to X to post the reply (nothing was sent); try again", source=source
        )
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return ReplyOutcomeUnknown(
            f"X did not confirm the reply to {post.key} in time; it may have been posted", source=source
        )
    if isinstance(exc, tweepy.Forbidden):
        message = api_message(exc)
        if "duplicate" in message.lower():
            # X refuses the brand's own recent words: proof an earlier attempt may have posted this
            # very reply, so the caller looks for it instead of asking for new wording
            return ReplyOutcomeUnknown(
                f"X refused the reply to {post.key} as a duplicate of a recent post by the brand ({message}): "
                "an earlier attempt may have posted it. If X shows no brand reply to the post, the same words "
                "went to someone else recently: change the wording",
                source=source,
            )
        return ReplyRejected(_forbidden_reply_message(post, message), source=source)
    if isinstance(exc, tweepy.BadRequest | tweepy.NotFound):
        return ReplyRejected(
            f"X refused the reply to {post.key} ({api_message(exc)}); the post may have been deleted or "
            "made private; check it on X and dismiss the item if it is gone",
            source=source,
        )
    if isinstance(exc, tweepy.Unauthorized):
        return AuthFailed(
            f"X rejected the user-context credentials (401) while replying to {post.key}; check {credentials_hint}",
            source=source,
        )
    if isinstance(exc, tweepy.TooManyRequests):
        until = reset_time(exc, now)
        return RateLimited(
            f"X's posting limit is reached; send again after {until:%H:%M} UTC",
            until=until,
            endpoint="create_tweet",
            source=source,
        )
    # a 5xx may come after the post was created: let the queue look before retrying
    what = api_message(exc) if isinstance(exc, tweepy.HTTPException) else type(exc).__name__
    return ReplyOutcomeUnknown(
        f"X answered {what} while posting the reply to {post.key}; it may have been posted", source=source
    )


def response_json(response: Any) -> Mapping[str, Any]:
    """The JSON object of a response; {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def api_message(exc: tweepy.HTTPException) -> str:
    messages = [m for m in exc.api_messages if isinstance(m, str)]
    status = exc.response.status_code if exc.response is not None else "?"
    return f"{status} {'; '.join(messages)}".strip() if messages else str(status)


def _forbidden_reply_message(post: Post, message: str) -> str:
    lowered = message.lower()
    if "deleted" in lowered or "not visible" in lowered:
        return (
            f"X refused the reply to {post.key} ({message}): the post was deleted or its author's account is "
            "private or gone; dismiss the item, or reach the customer another way"
        )
    if "not allowed" in lowered or "reply" in lowered:
        return (
            f"X does not allow the brand to reply to {post.key} ({message}): the author limits who can reply. "
            "Reach out another way (a DM or a new post mentioning them) and dismiss the item as handled_elsewhere"
        )
    return (
        f"X refused the reply to {post.key} ({message}); check the app has Read and Write permission and that "
        "the access token was regenerated after changing it"
    )


class WindowedCalls:
    """One app's tweepy calls: nothing is sent to an endpoint inside its rate-limit window,
    whoever asks (polling, or looking up the brand's own replies); a 429 or a page that
    leaves 0 requests closes the window until X's reset; failures become typed errors."""

    def __init__(
        self,
        windows: RateWindows,
        prefix: str,
        clock: Callable[[], datetime],
        *,
        source: str,
        credentials_hint: str,
    ) -> None:
        self.windows = windows
        self.prefix = prefix  # base URL and app: sources of one app share their windows
        self.clock = clock
        self.source = source
        self.credentials_hint = credentials_hint

    def call(self, endpoint: str, call: Callable[[], Any]) -> requests.Response:
        self.check(endpoint, self.clock())
        try:
            response = call()
        except tweepy.TooManyRequests as exc:
            until = reset_time(exc, self.clock())
            self.block(endpoint, until)
            raise RateLimited(
                f"X rate limit reached for {endpoint}; no request to it before {until:%H:%M:%S} UTC",
                until=until,
                endpoint=endpoint,
                source=self.source,
            ) from None
        except (tweepy.HTTPException, requests.RequestException) as exc:
            raise read_error(exc, endpoint, source=self.source, credentials_hint=self.credentials_hint) from None
        if header_int(response.headers, "x-rate-limit-remaining") == 0:
            # the allowance is spent: nothing more is sent to this endpoint before the reset
            self.block(endpoint, reset_at(response.headers) or self.clock() + DEFAULT_RESET)
        return response

    def block(self, endpoint: str, until: datetime) -> None:
        self.windows.block(self.prefix + endpoint, until)

    def check(self, endpoint: str, now: datetime) -> None:
        until = self.windows.blocked_until(self.prefix + endpoint, now)
        if until is not None:
            raise RateLimited(
                f"X rate limit for {endpoint} is used up; no request before {until:%H:%M:%S} UTC",
                until=until,
                endpoint=endpoint,
                source=self.source,
            )
