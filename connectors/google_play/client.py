"""The Google Play Developer API client of one source (google-api-python-client), its
errors and its count of requests.

The service is built from the discovery document the library ships (no download at
run time), over httplib2 authorized with a service account's key; the token endpoint
and the API's address come from the config, so tests point both at a fake. Play's
Reply to Reviews quota is per app: 200 reads an hour and 2,000 replies a day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from watcher.core.post import utc_now

PLAY_URL = "https://androidpublisher.googleapis.com/"
TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
RATE_PAUSE = timedelta(minutes=15)  # a limit without Retry-After: the read quota is counted per hour


class PlayClient:
    """Executes requests built by the SDK's service object, with typed errors."""

    def __init__(
        self,
        service: Any,
        http: CountingHttp,
        *,
        source: str = "",
        key_hint: str = "GOOGLE_PLAY_KEY_FILE",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.service = service
        self.http = http
        self.source = source
        self.key_hint = key_hint
        self.clock = clock

    @property
    def count(self) -> int:
        return self.http.count

    def execute(self, request: Any, *, what: str, writing: bool = False) -> dict[str, Any]:
        try:
            body = request.execute(num_retries=0)
        except HttpError as exc:
            raise self.error(exc, what, writing=writing) from None
        except RefreshError as exc:
            raise AuthFailed(
                f"Google refused the service account's key ({exc.args[0] if exc.args else 'invalid_grant'}): the key "
                f"may be deleted or expired; make a new JSON key (docs/connectors/google_play.md) and point "
                f"{self.key_hint} at it",
                source=self.source,
            ) from None
        except (TimeoutError, OSError, TransportError, httplib2.HttpLib2Error) as exc:
            timed_out = isinstance(exc, TimeoutError) or "timed out" in str(exc)
            if writing:
                why = "did not answer in time" if timed_out else f"broke the connection ({type(exc).__name__})"
                raise ReplyOutcomeUnknown(
                    f"Google Play {why} while posting {what}; it may have been posted", source=self.source
                ) from None
            raise SourceUnavailable(
                f"cannot reach Google Play for {what} ({type(exc).__name__}); will retry", source=self.source
            ) from None
        if not isinstance(body, dict):
            raise SourceUnavailable(f"Google Play sent no JSON object for {what}; will retry", source=self.source)
        return body

    def error(self, exc: HttpError, what: str, *, writing: bool) -> ConnectorError:
        status = exc.resp.status
        reason, message = error_detail(exc)
        detail = f"{reason or status}: {message}" if message else str(reason or status)
        if status == 429:
            after = exc.resp.get("retry-after")
            until = self.clock() + (timedelta(seconds=int(after)) if after and after.isdigit() else RATE_PAUSE)
            return RateLimited(
                f"Google Play's review quota is used up ({detail}; 200 reads an hour, 2,000 replies a day per app): "
                f"no request before {until:%H:%M} UTC",
                until=until,
                endpoint="reviews",
                source=self.source,
            )
        if status == 401:
            return AuthFailed(
                f"Google Play refused the credentials for {what} ({detail}): check the key in {self.key_hint}",
                source=self.source,
            )
        if status == 403:
            return AuthFailed(
                f"Google Play refused {what} ({detail}): invite the service account in Play Console (Users and "
                "permissions) with 'Reply to reviews' for this app, and enable the Google Play Android Developer API",
                source=self.source,
            )
        if writing and status < 500:
            why = "the review is gone" if status == 404 else f"Google Play refused it ({detail})"
            return ReplyRejected(f"{what}: {why}; answer in Play Console or dismiss the item", source=self.source)
        if status in (400, 404):
            return SourceMisconfigured(
                f"Google Play cannot show {what} ({detail}): check package_name", source=self.source
            )
        if writing:
            return ReplyOutcomeUnknown(
                f"Google Play failed while posting {what} ({detail}); it may have been posted", source=self.source
            )
        return SourceUnavailable(f"Google Play failed {what} ({detail}); will retry", source=self.source)


def make_client(
    key: Mapping[str, Any], *, base_url: str, token_url: str, timeout: float, source: str, key_hint: str
) -> PlayClient:
    """The only place a real service is built (tests point base_url and token_url at a fake)."""
    from google.oauth2 import service_account
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build

    credentials = service_account.Credentials.from_service_account_info({**key, "token_uri": token_url}, scopes=[SCOPE])
    http = CountingHttp(timeout=timeout)
    authorized = AuthorizedHttp(credentials, http=http)
    service = build(
        "androidpublisher",
        "v3",
        http=authorized,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": base_url.rstrip("/") + "/"},
    )
    return PlayClient(service, http, source=source, key_hint=key_hint)
