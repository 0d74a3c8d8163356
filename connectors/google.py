"""What the connectors built on google-api-python-client (Google Play, YouTube) share:
the httplib2 transport that counts its requests, and the reading of Google's error object."""

from __future__ import annotations

import json
from typing import Any

import httplib2
from googleapiclient.errors import HttpError


class CountingHttp(httplib2.Http):
    """httplib2.Http that counts what it sends (token requests too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return super().request(*args, **kwargs)


def error_detail(exc: HttpError) -> tuple[str, str]:
    """(reason, message) of Google's error object, as much of it as came: the reason is
    the first `errors[].reason`, else the error's `status`."""
    try:
        error = json.loads(exc.content.decode("utf-8", "replace")).get("error") or {}
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    details = error.get("errors")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    return str(first.get("reason") or error.get("status") or ""), str(error.get("message") or "")
