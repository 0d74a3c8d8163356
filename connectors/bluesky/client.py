"""The atproto SDK client of one Bluesky source: its session, its requests, its errors.

Logins are rare (Bluesky allows about 30 per 5 minutes and 300 a day per account):
a session is created once, refreshed with its refresh token when the access token
expires (the SDK does it ahead of the expiry; a server that ends it early answers
ExpiredToken and we refresh then), and exported for the connector to keep in the
source's cursor, so a restart resumes it without logging in. Every request is
counted and its RateLimit-* headers read: at `remaining = 0` nothing more is sent
until the reset.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from atproto import Client, Session, models
from atproto_client import exceptions as sdk_errors

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.bluesky.mapping import Ref
from connectors.shared import timed_out
from watcher.core.post import utc_now

BLUESKY_URL = "https://bsky.social"
RATE_PAUSE = timedelta(minutes=5)  # a 429 that names no reset: Bluesky's windows are 5 minutes
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


class Meter:
    """httpx event hooks: counts requests and reads the RateLimit-* headers."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.count = 0
        self.blocked_until: datetime | None = None

    def hooks(self) -> dict[str, list[Callable[[Any], None]]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def on_request(self, request: httpx.Request) -> None:
        self.count += 1

    def on_response(self, response: httpx.Response) -> None:
        remaining, reset = response.headers.get("ratelimit-remaining"), response.headers.get("ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            self.block(datetime.fromtimestamp(int(reset), self.clock().tzinfo))

    def block(self, until: datetime) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until


def _error_name(exc: sdk_errors.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    return str(getattr(content, "error", "") or "")


def _status(exc: sdk_errors.RequestErrorBase) -> int:
    return exc.response.status_code if exc.response is not None else 0


class BlueskyClient:
    """Reads and the reply, through the SDK, with one session kept alive."""

    def __init__(
        self,
        sdk: Client,
        meter: Meter,
        *,
        handle: str,
        password: str,
        password_hint: str = "BLUESKY_APP_PASSWORD",
        source: str = "",
    ) -> None:
        self.sdk = sdk
        self.meter = meter
        self.handle = handle.lstrip("@").lower()
        self.password = password
        self.password_hint = password_hint
        self.source = source
        self.did = ""
        self.logins = 0  # createSession calls made by this process

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.meter.clock

    # --- the session --------------------------------------------------------------------
    def session_string(self) -> str:
        """The session as the SDK exports it ("" before one exists), for the cursor."""
        return self.sdk.export_session_string() if self.did else ""

    def resume(self, stored: str) -> None:
        """Use the session kept in the cursor when this process has none yet (no request);
        one of another account is ignored."""
        if self.did or not stored:
            return
        try:
            session = Session.decode(stored)
        except (ValueError, IndexError):
            return
        if session.handle.lower() != self.handle:
            return
        self.sdk.login(session_string=stored, fetch_bsky_profile=False)
        self.did = session.did

    def ensure_session(self) -> None:
        if not self.did:
            self.login()

    def login(self) -> None:
        self.refuse_while_blocked()
        self.logins += 1
        try:
            self.sdk.login(self.handle, self.password, fetch_bsky_profile=False)
        except sdk_errors.RateLimitExceededError as exc:
            raise self.rate_limited(exc, "logging in") from None
        except sdk_errors.UnauthorizedError as exc:
            raise AuthFailed(
                f"Bluesky refused the login of {self.handle} ({_error_name(exc) or _status(exc)}): check the handle "
                f"and make a new app password (Settings > Privacy and security > App passwords), export it in "
                f"{self.password_hint}",
                source=self.source,
            ) from None
        except sdk_errors.RequestErrorBase as exc:
            raise self.read_error(exc, "logging in") from None
        self.did = Session.decode(self.sdk.export_session_string()).did

    def refresh(self) -> None:
        """A new access token from the refresh token; a login only when that is refused."""
        try:
            self.sdk._refresh_and_set_session()  # the SDK's own refresh, called when the server ended it early
        except (sdk_errors.BadRequestError, sdk_errors.UnauthorizedError, sdk_errors.LoginRequiredError):
            self.did = ""
            self.login()

    # --- calls --------------------------------------------------------------------------
    def query(self, nsid: str, params: Any, *, what: str) -> dict[str, Any]:
        """GET an XRPC query; the raw JSON object (mapping is ours, item by item)."""
        response = self._call(lambda: self.sdk.invoke_query(nsid, params=params), what=what, writing=False)
        content = response.content
        if not isinstance(content, dict):
            raise SourceUnavailable(f"Bluesky sent no JSON object for {what}; will retry", source=self.source)
        return content

    def send_reply(self, text: str, *, root: Ref, parent: Ref, langs: list[str] | None) -> Ref:
        reply_to = models.AppBskyFeedPost.ReplyRef(
            root=models.ComAtprotoRepoStrongRef.Main(uri=root.uri, cid=root.cid),
            parent=models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid),
        )
        created = self._call(
            lambda: self.sdk.send_post(text, profile_identify=self.did, reply_to=reply_to, langs=langs),
            what=f"the reply to {parent.uri}",
            writing=True,
        )
        return Ref(created.uri, created.cid)

    def _call(self, call: Callable[[], Any], *, what: str, writing: bool) -> Any:
        self.ensure_session()
        self.refuse_while_blocked()  # also after a login whose answer said the window is used up
        for attempt in (1, 2):
            try:
                return call()
            except sdk_errors.LoginRequiredError:
                self.did = ""
                self.login()
            except (sdk_errors.BadRequestError, sdk_errors.UnauthorizedError) as exc:
                if _error_name(exc) not in TOKEN_ERRORS or attempt == 2:
                    raise self.write_error(exc, what) if writing else self.read_error(exc, what) from None
                self.refresh()
            except sdk_errors.InvokeTimeoutError:
                raise timed_out("Bluesky", what, writing=writing, source=self.source) from None
            except sdk_errors.RequestErrorBase as exc:
                raise self.write_error(exc, what) if writing else self.read_error(exc, what) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # --- errors -------------------------------------------------------------------------
    def refuse_while_blocked(self) -> None:
        until = self.meter.blocked_until
        if until is not None and self.clock() < until:
            raise RateLimited(
                f"Bluesky's rate limit is used up; no request before {until:%H:%M:%S} UTC",
                until=until,
                endpoint="bluesky",
                source=self.source,
            )

    def rate_limited(self, exc: sdk_errors.RateLimitExceededError, what: str) -> RateLimited:
        now = self.clock()
        until = exc.reset_at or (now + timedelta(seconds=exc.retry_after) if exc.retry_after else now + RATE_PAUSE)
        self.meter.block(until)
        return RateLimited(
            f"Bluesky rate-limited {what}; no request before {until:%H:%M:%S} UTC",
            until=until,
            endpoint="bluesky",
            source=self.source,
        )

    def read_error(self, exc: sdk_errors.RequestErrorBase, what: str) -> ConnectorError:
        status, name = _status(exc), _error_name(exc)
        if isinstance(exc, sdk_errors.RateLimitExceededError):
            return self.rate_limited(exc, what)
        if isinstance(exc, sdk_errors.UnauthorizedError) or name in TOKEN_ERRORS:
            return AuthFailed(
                f"Bluesky refused {what} ({exc}): make a new app password and export it in {self.password_hint}",
                source=self.source,
            )
        if isinstance(exc, sdk_errors.BadRequestError):
            return SourceMisconfigured(
                f"Bluesky refused {what} ({exc}); check the source's search terms and languages", source=self.source
            )
        detail = f"HTTP {status}" if status else type(exc).__name__
        return SourceUnavailable(f"Bluesky failed {what} ({detail}); will retry", source=self.source)

    def write_error(self, exc: sdk_errors.RequestErrorBase, what: str) -> ConnectorError:
        status = _status(exc)
        if isinstance(exc, sdk_errors.RateLimitExceededError | sdk_errors.UnauthorizedError):
            return self.read_error(exc, what)
        if isinstance(exc, sdk_errors.BadRequestError):
            return ReplyRejected(
                f"Bluesky refused {what} ({exc}); the post may be deleted or its replies limited: answer on "
                "bsky.app or dismiss",
                source=self.source,
            )
        if status == 0 or status >= 500 or isinstance(exc, sdk_errors.NetworkError):
            return ReplyOutcomeUnknown(
                f"Bluesky failed while posting {what} ({status or type(exc).__name__}); it may have been posted",
                source=self.source,
            )
        return ReplyRejected(f"Bluesky refused {what} ({exc}); answer on bsky.app or dismiss", source=self.source)


def make_sdk(base_url: str, timeout: float, meter: Meter) -> Client:
    """The only place a real SDK client is built (tests point base_url at a fake)."""
    from atproto_client.request import Request

    return Client(base_url=base_url, request=Request(timeout=timeout, event_hooks=meter.hooks()))


def param_model(nsid: str, params: Mapping[str, Any]) -> Any:
    """The SDK's params model for `nsid` (it drops None values and spells the keys)."""
    model = {
        "app.bsky.notification.listNotifications": models.AppBskyNotificationListNotifications.Params,
        "app.bsky.feed.searchPosts": models.AppBskyFeedSearchPosts.Params,
        "app.bsky.feed.getPostThread": models.AppBskyFeedGetPostThread.Params,
    }[nsid]
    return model(**{k: v for k, v in params.items() if v is not None})
