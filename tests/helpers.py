"""Builders shared by the tests (import as tests.helpers)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.core.post import Author, Metrics, Post, PostKind

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BRAND = {
    "name": "Lumo",
    "own_accounts": {"x": ["900000001"]},
    "languages": ["en", "it", "ro", "es", "de", "fr", "pt"],
    "timezone": "Europe/Rome",
}

_ids = itertools.count(1)


def make_post(
    text: str = "my card was declined twice, help?",
    *,
    native_id: str | None = None,
    author: str = "ann",
    minutes: float = 0,
    platform: str = "x",
    **fields: Any,
) -> Post:
    return Post(
        platform=platform,
        native_id=native_id or str(next(_ids)),
        kind=fields.pop("kind", PostKind.MENTION),
        text=text,
        created_at=T0 + timedelta(minutes=minutes),
        author=Author(id=f"id-{author}", handle=author, followers=fields.pop("followers", 10)),
        metrics=fields.pop("metrics", Metrics()),
        **fields,
    )
