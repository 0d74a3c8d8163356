"""The YouTube Data API client of one source (google-api-python-client), its errors
and its count of requests and quota units.

The service is built from the discovery document the library ships (no download at
run time), over httplib2 authorized with the channel's OAuth refresh token; the token
endpoint and the API's address come from the config, so tests point both at a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from connectors.base import (
    AuthFailed,
    ConnectorError,
    RateLimited,
    ReplyOutcomeUnknown,
    ReplyRejected,
    SourceMisconfigured,
    SourceUnavailable,
)
from connectors.google import CountingHttp, error_detail
from connectors.shared import timed_out
from connectors.youtube.budget import next_quota_reset
from watcher.core.post import utc_now

YOUTUBE_URL = "https://youtube.googleapis.com/"
TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
RATE_PAUSE = timedelta(minutes=5)  # a short-term limit without Retry-After


class YouTubeClient:
    """Executes requests built by the SDK's service object, with typed errors."""

    def __init__(
        self,
        service: Any,
        http: CountingHttp,
        *,
        source: str = "",
        secrets_hint: str = "YOUTUBE_REFRESH_TOKEN",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.service = service
        self.http = http
        self.source = source
        self.secrets_hint = secrets_hint
        self.clock = clock
        self.units = 0  # quota units spent by this process
        self.blocked_until: datetime | None = None

    @property
    def count(self) -> int:
        return self.http.count

    def execute(self, request: Any, *, cost: int, what: str, writing: bool = False) -> dict[str, Any]:
        now = self.clock()
        if self.blocked_until is not None and now < self.blocked_until:
            raise RateLimited(
                f"YouTube's quota is used up; no request before {self.blocked_until:%H:%M} UTC",
                until=self.blocked_until,
                endpoint="youtube",
                source=self.source,
            )
        try:
            body = request.execute(num_retries=0)
        except HttpError as exc:
            raise self.error(exc, what, writing=writing) from None
        except RefreshError as exc:
            raise AuthFailed(
                f"Google refused the refresh token ({exc.args[0] if exc.args else 'invalid_grant'}): authorize the "
                f"channel again (docs/connectors/youtube.md) and export the new token in {self.secrets_hint}",
                source=self.source,
            ) from None
        except (TimeoutError, OSError, TransportError, httplib2.HttpLib2Error) as exc:
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise timed_out("YouTube", what, writing=writing, source=self.source) from None
            if writing:
                raise ReplyOutcomeUnknown(
                    f"the connection to YouTube broke while posting {what}; it may have been posted",
                    source=self.source,
                ) from None
            raise SourceUnavailable(
                f"cannot reach YouTube for {what} ({type(exc).__name__}); will retry", source=self.source
            ) from None
        finally:
            self.units += cost
        if not isinstance(body, dict):
            raise SourceUnavailable(f"YouTube sent no JSON object for {what}; will retry", source=self.source)
        return body

    def error(self, exc: HttpError, what: str, *, writing: bool) -> ConnectorError:
        status = exc.resp.status
        reason, message = error_detail(exc)
        detail = f"{reason or status}: {message}" if message else str(reason or status)
        if reason in QUOTA_REASONS:
            until = next_quota_reset(self.clock())
            self.blocked_until = until
            return RateLimited(
                f"YouTube's daily quota is used up ({detail}); no request before it resets at {until:%H:%M} UTC "
                "(midnight Pacific time): poll less often or ask Google for more quota",
                until=until,
                endpoint="youtube",
                source=self.source,
            )
        if status == 429 or reason in RATE_REASONS:
            after = exc.resp.get("retry-after")
            until = self.clock() + (timedelta(seconds=int(after)) if after and after.isdigit() else RATE_PAUSE)
            self.blocked_until = until
            return RateLimited(f"YouTube asked us to slow down ({detail})", until=until, endpoint="youtube",
                               source=self.source)  # fmt: skip
        if status == 401:
            return AuthFailed(
                f"YouTube refused the credentials for {what} ({detail}): authorize the channel again and export the "
                f"token in {self.secrets_hint}",
                source=self.source,
            )
        if writing and status < 500:
            gone = status == 404 or "NotFound" in reason
            why = "the comment was deleted" if gone else f"YouTube refused it ({detail})"
            return ReplyRejected(f"{what}: {why}; answer on YouTube Studio or dismiss the item", source=self.source)
        if status == 403:
            return AuthFailed(
                f"YouTube refused {what} ({detail}): the authorized account must own or manage the channel, with "
                "the youtube.force-ssl scope",
                source=self.source,
            )
        if status in (400, 404):
            return SourceMisconfigured(f"YouTube cannot show {what} ({detail}); check channel_id", source=self.source)
        if writing:
            return ReplyOutcomeUnknown(f"YouTube failed while posting {what} ({detail}); it may have been posted",
                                       source=self.source)  # fmt: skip
        return SourceUnavailable(f"YouTube failed {what} ({detail}); will retry", source=self.source)


def make_client(*, base_url: str, token_url: str, client_id: str, client_secret: str, refresh_token: str,
                timeout: float, source: str, secrets_hint: str) -> YouTubeClient:  # fmt: skip
    """The only place a real service is built (tests point base_url and token_url at a fake)."""
    from google.oauth2.credentials import Credentials
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    credentials = Credentials(
        token=None, refresh_token=refresh_token, token_uri=token_url, client_id=client_id,
        client_secret=client_secret, scopes=[SCOPE],
    )  # fmt: skip
    http = CountingHttp(timeout=timeout)
    authorized = AuthorizedHttp(credentials, http=http)
    service = build("youtube", "v3", http=authorized, static_discovery=True, cache_discovery=False,
                    client_options={"api_endpoint": base_url.rstrip("/") + "/"})  # fmt: skip
    return YouTubeClient(service, http, source=source, secrets_hint=secrets_hint)
