"""The Mastodon.py client of one source: counted requests, the instance's rate-limit
headers, and Mastodon.py's errors as the connector errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import requests
from mastodon import Mastodon
from mastodon import errors as sdk_errors

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.shared import timed_out
from watcher.core.post import parse_timestamp, utc_now

T = TypeVar("T")
RATE_PAUSE = timedelta(minutes=5)  # Mastodon's windows are 5 minutes


class Meter:
    """A requests response hook: counts requests and reads X-RateLimit-*."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.count = 0
        self.reset: datetime | None = None
        self.blocked_until: datetime | None = None

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        reset = response.headers.get("X-RateLimit-Reset")
        try:
            self.reset = parse_timestamp(reset) if reset else None
        except ValueError:
            self.reset = None
        if response.headers.get("X-RateLimit-Remaining") == "0" and self.reset is not None:
            self.block(self.reset)

    def block(self, until: datetime) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until


class MastodonClient:
    """Runs Mastodon.py calls with typed errors and the rate limit held."""

    def __init__(self, sdk: Mastodon, meter: Meter, *, instance: str, token_hint: str, source: str = "") -> None:
        self.sdk = sdk
        self.meter = meter
        self.instance = instance
        self.token_hint = token_hint
        self.source = source

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.meter.clock

    def call(self, call: Callable[[], T], *, what: str, writing: bool = False) -> T:
        until = self.meter.blocked_until
        if until is not None and self.clock() < until:
            raise RateLimited(f"{self.instance}'s rate limit is used up; no request before {until:%H:%M:%S} UTC",
                              until=until, endpoint="mastodon", source=self.source)  # fmt: skip
        try:
            return call()
        except sdk_errors.MastodonReadTimeout:
            raise timed_out(self.instance, what, writing=writing, source=self.source) from None
        except sdk_errors.MastodonRatelimitError:
            until = self.meter.reset if self.meter.reset and self.meter.reset > self.clock() else None
            until = until or self.clock() + RATE_PAUSE
            self.meter.block(until)
            raise RateLimited(f"{self.instance} rate-limited {what}; no request before {until:%H:%M:%S} UTC",
                              until=until, endpoint="mastodon", source=self.source) from None  # fmt: skip
        except sdk_errors.MastodonError as exc:
            raise self.error(exc, what, writing=writing) from None

    def error(self, exc: sdk_errors.MastodonError, what: str, *, writing: bool) -> ConnectorError:
        status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        detail = str(exc.args[3] if len(exc.args) > 3 and exc.args[3] else exc.args[-1] if exc.args else exc)
        if isinstance(exc, sdk_errors.MastodonUnauthorizedError) or status in (401, 403) and not writing:
            return AuthFailed(f"{self.instance} refused {what} ({detail}): make a new access token (Preferences > "
                              f"Development) with read and write:statuses and export it in {self.token_hint}",
                              source=self.source)  # fmt: skip
        if isinstance(exc, sdk_errors.MastodonNetworkError | sdk_errors.MastodonServerError):
            if writing:
                return ReplyOutcomeUnknown(f"{self.instance} failed while posting {what} ({detail}); it may have "
                                           "been posted", source=self.source)  # fmt: skip
            return SourceUnavailable(f"{self.instance} failed {what} ({detail}); will retry", source=self.source)
        if writing:
            gone = isinstance(exc, sdk_errors.MastodonNotFoundError)
            why = "the post was deleted" if gone else f"{self.instance} refused it ({detail})"
            return ReplyRejected(f"{what}: {why}; answer on the instance or dismiss the item", source=self.source)
        return SourceMisconfigured(f"{self.instance} cannot show {what} ({detail}); check the source's config",
                                   source=self.source)  # fmt: skip


def make_sdk(*, base_url: str, token: str, timeout: float, meter: Meter) -> Mastodon:
    """The only place a real Mastodon.py client is built (tests point base_url at a fake)."""
    session = requests.Session()
    session.hooks["response"].append(meter.on_response)
    # throw: a limit is ours to hold (across restarts); a declared version: no probe (4.0 has all we use)
    return Mastodon(access_token=token, api_base_url=base_url, request_timeout=timeout, session=session,
                    ratelimit_method="throw", version_check_mode="created", mastodon_version="4.0.0")  # fmt: skip
